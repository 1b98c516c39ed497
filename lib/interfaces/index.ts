export * from './prometheus-module-options.interface.js';
