// Copies the status page's files (lib/status-page/assets: HTML, JS, CSS) beside the compiled code
// in each output folder given, e.g. `node scripts/copy-status-assets.mjs dist/esm dist/cjs`: tsc
// compiles only TypeScript, and the page is served from `<out>/status-page/assets` at run time.
import { cpSync } from 'node:fs';
import { dirname, join } from 'node:path';

const root = join(dirname(new URL(import.meta.url).pathname), '..');
const source = join(root, 'lib/status-page/assets');
const outs = process.argv.slice(2);
if (outs.length === 0) {
  console.error('usage: node scripts/copy-status-assets.mjs <out folder> [...]');
  process.exit(2);
}
for (const out of outs) cpSync(source, join(root, out, 'status-page/assets'), { recursive: true });
