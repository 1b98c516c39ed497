import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The page's own files, copied beside the compiled code at build (`scripts/copy-status-assets.mjs`).
 * `import.meta.url` becomes `__filename`'s URL in the CommonJS build (`scripts/build-cjs.mjs`).
 */
const ASSETS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'assets');

/**
 * The browser's rules for the page (`Content-Security-Policy`, sent with the HTML): its own scripts, styles and data only. No inline script or
 * style (the charts set sizes through the CSSOM, which `style-src` does not govern), nothing from
 * another origin, no framing.
 *
 * @example
 * ```ts
 * statusHtml('/metrics/status', 5).headers['Content-Security-Policy'] === STATUS_PAGE_CSP; // true
 * ```
 */
export const STATUS_PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * A response of the status page, for either adapter or the bare metrics server.
 *
 * @example
 * ```ts
 * const notFound: StatusResponse = { status: 404, headers: {}, body: 'Not Found\n' };
 * ```
 */
export interface StatusResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

interface Asset {
  file: () => string;
  type: string;
}

// Not named `require`: in the CommonJS build that name is the module's own.
const resolveInstalled = createRequire(import.meta.url);

/** What the page may load, by the name it asks for: nothing else is read from disk. */
const ASSETS: Record<string, Asset> = {
  'status-page.js': { file: () => join(ASSETS_DIR, 'status-page.js'), type: 'text/javascript; charset=utf-8' },
  'status-page.css': { file: () => join(ASSETS_DIR, 'status-page.css'), type: 'text/css; charset=utf-8' },
  // uPlot from the installed package (a dependency): never a CDN.
  'uplot.js': {
    file: () => resolveInstalled.resolve('uplot/dist/uPlot.iife.min.js'),
    type: 'text/javascript; charset=utf-8',
  },
  'uplot.css': { file: () => resolveInstalled.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

const cache = new Map<string, string>();

function read(file: string): string {
  let text = cache.get(file);
  if (text === undefined) cache.set(file, (text = readFileSync(file, 'utf8')));
  return text;
}

const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/**
 * One of the page's files by name, or `undefined` for any other name.
 *
 * @example
 * ```ts
 * statusAsset('uplot.js')?.status; // 200
 * ```
 */
export function statusAsset(name: string): StatusResponse | undefined {
  const asset = Object.prototype.hasOwnProperty.call(ASSETS, name) ? ASSETS[name] : undefined;
  if (!asset) return undefined;
  return {
    status: 200,
    headers: { ...SECURITY_HEADERS, 'Content-Type': asset.type, 'Cache-Control': 'no-cache' },
    body: read(asset.file()),
  };
}

/**
 * The page's HTML; `base` is the path it was asked at (global prefix included, no trailing
 * slash), under which it asks for its files and beside which it reads its data (`{base}.json`).
 *
 * @example
 * ```ts
 * statusHtml('/api/metrics/status', 5).headers['Content-Security-Policy']; // STATUS_PAGE_CSP
 * ```
 */
export function statusHtml(base: string, refreshSeconds: number): StatusResponse {
  const body = read(join(ASSETS_DIR, 'index.html'))
    .replaceAll('{{base}}', escapeHtml(base))
    .replaceAll('{{refreshSeconds}}', String(refreshSeconds));
  return {
    status: 200,
    headers: {
      ...SECURITY_HEADERS,
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Security-Policy': STATUS_PAGE_CSP,
      'Cache-Control': 'no-store',
      'X-Frame-Options': 'DENY',
    },
    body,
  };
}

/**
 * The page's data as JSON, never cached.
 *
 * @example
 * ```ts
 * statusJson(view).headers['Cache-Control']; // 'no-store'
 * ```
 */
export function statusJson(data: unknown): StatusResponse {
  return {
    status: 200,
    headers: { ...SECURITY_HEADERS, 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' },
    body: JSON.stringify(data),
  };
}

/**
 * The path a page was asked at, without query or trailing slashes.
 *
 * @example
 * ```ts
 * basePathOf('/api/metrics/status/?x=1', '/metrics/status'); // '/api/metrics/status'
 * ```
 */
export function basePathOf(url: string | undefined, fallback: string): string {
  if (!url) return fallback;
  const q = url.search(/[?#]/);
  const path = (q === -1 ? url : url.slice(0, q)).replace(/\/+$/, '');
  return path === '' ? fallback : path;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`);
}
