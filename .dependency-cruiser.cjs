/**
 * The layers of lib/ (ARCHITECTURE.md, "Layers"), enforced by `npm run lint:deps` in CI.
 * Bottom up: interfaces and compat, core, decorators, runtime, the sibling features, and the module
 * files at the root of lib/ that compose them. A layer imports only from the layers below it, and
 * a feature never from another feature: cross-feature facts travel through the runtime.
 */
const FEATURES = 'http|transports|methods|http-client|cluster|pushgateway|endpoint|status-page';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Import cycles hide which file owns what.',
      from: { path: '^lib/' },
      to: { circular: true },
    },
    {
      name: 'feature-to-feature',
      severity: 'error',
      comment: 'Features are siblings: they share core/, compat/ and runtime/, never each other.',
      from: { path: `^lib/(${FEATURES})/` },
      to: { path: `^lib/(${FEATURES})/`, pathNot: '^lib/$1/' },
    },
    {
      name: 'features-below-the-module',
      severity: 'error',
      comment: 'The module files at the root of lib/ compose the features; a feature never reads them.',
      from: { path: `^lib/(${FEATURES})/` },
      to: { path: '^lib/[^/]+\\.ts$' },
    },
    {
      name: 'lower-layers-know-no-feature',
      severity: 'error',
      comment: 'core/, compat/, interfaces/, decorators/ and runtime/ know nothing of the features or of the module.',
      from: { path: '^lib/(core|compat|interfaces|decorators|runtime)/' },
      to: { path: `^lib/((${FEATURES})/|[^/]+\\.ts$)` },
    },
    {
      name: 'compat-is-the-bottom',
      severity: 'error',
      comment: "compat/ wraps other projects' behaviour and depends on nothing of ours.",
      from: { path: '^lib/compat/' },
      to: { path: '^lib/', pathNot: '^lib/(compat|interfaces)/' },
    },
    {
      name: 'interfaces-are-the-bottom',
      severity: 'error',
      comment: 'Option types describe what users pass and what the features read; they import nothing of ours.',
      from: { path: '^lib/interfaces/' },
      to: { path: '^lib/', pathNot: '^lib/interfaces/' },
    },
    {
      name: 'core-below-decorators-and-runtime',
      severity: 'error',
      comment: 'The metric engine and exposition do not know Nest features (decorators, the runtime).',
      from: { path: '^lib/core/' },
      to: { path: '^lib/(decorators|runtime)/' },
    },
    {
      name: 'decorators-below-runtime',
      severity: 'error',
      comment: 'Decorators only store metadata.',
      from: { path: '^lib/decorators/' },
      to: { path: '^lib/runtime/' },
    },
    {
      name: 'testing-entry-uses-no-feature',
      severity: 'error',
      from: { path: '^lib/testing/' },
      to: { path: `^lib/((${FEATURES})/|[^/]+\\.ts$)` },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^lib/',
    exclude: { path: '\\.spec\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
