import { createRequire } from 'node:module';
import { join } from 'node:path';

/** Where the self-check's warning goes (Nest's `Logger` fits). */
export interface SelfCheckLogger {
  warn(message: string): unknown;
}

/**
 * Collects, during bootstrap, the contact points with Nest, Express, Fastify and prom-client that
 * are missing or behave unexpectedly on the running versions (see lib/compat/), then logs them as
 * ONE warning that names what the metrics will miss and how to report it. Nothing here throws:
 * a metrics library must never stop an app from starting, nor hide a gap.
 *
 * ```ts
 * const report = new CompatReport(new Logger('PrometheusModule'), 'express');
 * report.expressRouterUnknown();
 * report.flush(); // one warning, then nothing until something new is noted
 * ```
 */
export class CompatReport {
  private readonly gaps: string[] = [];

  constructor(
    private readonly logger: SelfCheckLogger,
    private readonly adapter: 'express' | 'fastify',
  ) {}

  /** The adapter has no `setOnRequestHook` although its version (11.1+) should have it. */
  requestHookMissing(): void {
    if (!expectsRequestHook(this.adapter)) return;
    this.gaps.push(
      this.adapter === 'express'
        ? 'the Express adapter has no setOnRequestHook (expected since @nestjs/platform-express 11.1): ' +
            'a middleware put first in the router stands in for it; requests that Express answers before its router ' +
            '(none in a plain Nest app) would not be counted'
        : 'the Fastify adapter has no setOnRequestHook (expected since @nestjs/platform-fastify 11.1): responses ' +
            'sent before the route is reached (CORS preflight, middleware, the shutdown guard) count under ' +
            'route="__unmatched__" instead of their route',
    );
  }

  /** Neither `app.router` (Express 5) nor `app._router` (Express 4) holds a layer stack. */
  expressRouterUnknown(): void {
    this.gaps.push(
      'the Express router has a shape the module does not know (no app.router or app._router stack): ' +
        'requests are counted, but without route templates for body-parser errors and with ' +
        'the middleware that starts the clock placed last instead of first',
    );
  }

  /** Controller routes exist, but none carries the handler's metadata on the Express router. */
  expressRoutesNotFound(expected: number): void {
    this.gaps.push(
      `none of the ${expected} controller routes was found on the Express router by its handler's metadata: ` +
        'http_requests_in_progress stays 0 and @DoNotTrack() is ignored',
    );
  }

  /** The Fastify server has not exactly one `request` listener (Fastify's router). */
  fastifyRequestListeners(count: number | undefined): void {
    this.gaps.push(
      `the Fastify server has ${count === undefined ? 'no HTTP server' : `${count} 'request' listeners`} ` +
        "(expected Fastify's one): responses Fastify's router sends before any hook (a URL it cannot decode, " +
        'a parameter too long) are not counted, and durations start at the first onRequest hook',
    );
  }

  /** No controller route reached Fastify's `onRoute` hook with the module's route config. */
  fastifyRoutesUnseen(expected: number): void {
    this.gaps.push(
      `none of the ${expected} controller routes reached Fastify with the module's route config ` +
        '(routes registered before PrometheusModule ran, or route config no longer passed on): requests count ' +
        'under route="__unmatched__", http_requests_in_progress stays 0 and @DoNotTrack() is ignored',
    );
  }

  /** Nest never handed its not-found handler to the adapter during init. */
  notFoundHandlerUnseen(): void {
    this.gaps.push(
      "Nest did not set the adapter's not-found handler during init: 404s on Fastify may count under the " +
        'wrong route or not at all',
    );
  }

  /** Nest's exception layer picked a filter without asking the module's observer. */
  filterSelectionUnobserved(detail: string): void {
    this.gaps.push(
      `Nest's exception-filter selection did not consult the module's observer (${detail}): ` +
        'exceptions will be missing from http_exceptions_total and the exception label',
    );
  }

  /** Logs the gaps noted so far as one warning (none: nothing), and forgets them. */
  flush(): void {
    if (this.gaps.length === 0) return;
    const gaps = this.gaps.splice(0);
    let versions: string;
    try {
      versions = runningVersions(this.adapter);
    } catch {
      versions = 'versions unknown';
    }
    try {
      this.logger.warn(
        `Self-check: ${gaps.length === 1 ? 'a contact point' : `${gaps.length} contact points`} with ` +
          `NestJS/${this.adapter === 'express' ? 'Express' : 'Fastify'} did not behave as this version of ` +
          `nestjs-prom-metrics expects (${versions}):\n` +
          gaps.map(gap => `  - ${gap}`).join('\n') +
          '\nThe other metrics are unaffected. Please report this on the nestjs-prom-metrics issue tracker ' +
          'with this message (`npm ls @nestjs/core express fastify` gives the versions).',
      );
    } catch {
      // A logger that throws must not stop the app.
    }
  }
}

/** Reads the version of an installed package from the app's folder, or undefined. */
function installedVersion(name: string): string | undefined {
  try {
    const require = createRequire(join(process.cwd(), 'package.json'));
    return (require(`${name}/package.json`) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

function runningVersions(adapter: 'express' | 'fastify'): string {
  const names = ['@nestjs/core', `@nestjs/platform-${adapter}`, adapter];
  return [...names.map(name => `${name} ${installedVersion(name) ?? 'unknown'}`), `Node.js ${process.version}`].join(
    ', ',
  );
}

/**
 * Whether the running platform package has the adapter request hook (11.1 and later). An unknown
 * version (the app runs from another folder than its package) is taken as not expecting it: the
 * fallbacks are complete on Express, and nearly so on Fastify.
 */
function expectsRequestHook(adapter: 'express' | 'fastify'): boolean {
  const version = installedVersion(`@nestjs/platform-${adapter}`);
  const match = version === undefined ? null : /^(\d+)\.(\d+)/.exec(version);
  if (match === null) return false;
  const major = Number(match[1]);
  return major > 11 || (major === 11 && Number(match[2]) >= 1);
}
