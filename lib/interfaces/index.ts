export * from './prometheus-module-options.interface.js';
export * from './metric-decorator-options.interface.js';
