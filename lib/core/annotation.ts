/**
 * A value the module attaches to an object it does not own (a prom-client metric or registry, a
 * user's filter), under a process-wide key: the state lives on the object it describes and goes
 * with it, no app reads another's, and the ESM and the CommonJS build of the module (both may be
 * loaded in one process) see the same value, where two module-scope `WeakMap`s would disagree.
 *
 * @example
 * ```ts
 * const reported = annotation<Set<string>>('collect-errors-reported');
 * reported.get(registry) ?? reported.set(registry, new Set());
 * ```
 */
export interface Annotation<T> {
  get(target: object): T | undefined;
  /** Sets the value (not enumerable, not copied by spreads) and returns it. */
  set(target: object, value: T): T;
  has(target: object): boolean;
  delete(target: object): void;
}

/** The annotation of `key` (`nestjs-prom-metrics.<key>` in the global symbol registry). */
export function annotation<T>(key: string): Annotation<T> {
  const symbol = Symbol.for(`nestjs-prom-metrics.${key}`);
  return {
    get: target =>
      Object.prototype.hasOwnProperty.call(target, symbol) ? (target as Record<symbol, T>)[symbol] : undefined,
    set: (target, value) => {
      Object.defineProperty(target, symbol, { value, configurable: true, writable: true });
      return value;
    },
    has: target => Object.prototype.hasOwnProperty.call(target, symbol),
    delete: target => {
      Reflect.deleteProperty(target, symbol);
    },
  };
}
