/** Longest class name kept by {@link exceptionName}: names key caches, and become label values. */
export const MAX_EXCEPTION_NAME_LENGTH = 128;

/**
 * Distinct exception names cached per series holder (a route, a handler); past it, names are
 * still counted, looked up in the metric each time instead of cached (the metric caps its series).
 */
export const MAX_CACHED_EXCEPTION_NAMES = 100;

/**
 * The class name of what was thrown, as the `exception` label gives it: the name of the
 * constructor its prototype chain declares, never an own `constructor` property (a re-thrown JSON
 * payload `{"constructor":{"name":"…"}}` would choose the label). Never throws (a Proxy, a
 * throwing getter): it runs inside users' exception filters. `Object` when there is no class name.
 */
export function exceptionName(error: unknown): string {
  if (typeof error !== 'object' || error === null) return typeof error;
  try {
    let proto: unknown = Object.getPrototypeOf(error);
    // A few levels: `Object.create(proto)` chains whose first prototype declares no constructor.
    for (let depth = 0; depth < 8 && typeof proto === 'object' && proto !== null; depth++) {
      // The property's value, not a getter's result: reading it runs no user code.
      const ctor: unknown = Object.getOwnPropertyDescriptor(proto, 'constructor')?.value;
      if (typeof ctor === 'function') {
        const name: unknown = ctor.name;
        if (typeof name !== 'string' || name === '') return 'Object';
        return name.length > MAX_EXCEPTION_NAME_LENGTH ? name.slice(0, MAX_EXCEPTION_NAME_LENGTH) : name;
      }
      proto = Object.getPrototypeOf(proto);
    }
  } catch {
    // A Proxy's trap or a static `name` getter threw: the value has no usable class name.
  }
  return 'Object';
}

/** Whether `value` is the string, or passes the RegExp (global or sticky ones from the start). */
export function matchesPattern(pattern: string | RegExp, value: string): boolean {
  if (typeof pattern === 'string') return pattern === value;
  pattern.lastIndex = 0;
  return pattern.test(value);
}
