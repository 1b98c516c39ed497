// npm 11.19 writes the optional, platform-specific dependencies of a package into its lock entry
// (`optionalDependencies`) but leaves out the entries of those it did not install (other
// platforms' native bindings, e.g. unrs-resolver's), and `npm ci` then rejects the lock as out of
// sync. This removes the dangling names, so the lock describes exactly what it holds.
// Run after `npm install`:  node scripts/prune-lock-optionals.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const file = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(file, 'utf8'));
const installed = Object.keys(lock.packages);
let pruned = 0;
for (const entry of Object.values(lock.packages)) {
  const optional = entry.optionalDependencies;
  if (!optional) continue;
  const kept = Object.entries(optional).filter(([name]) =>
    installed.some(path => path.endsWith(`node_modules/${name}`)),
  );
  pruned += Object.keys(optional).length - kept.length;
  entry.optionalDependencies = Object.fromEntries(kept);
}
writeFileSync(file, JSON.stringify(lock, null, 2) + '\n');
console.log(`prune-lock-optionals: removed ${pruned} dangling optional dependencies`);
