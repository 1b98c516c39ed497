/** Longest description returned: an error built from request data must not flood the log. */
export const MAX_ERROR_DESCRIPTION_LENGTH = 2000;

const UNPRINTABLE = 'a value that cannot be described';

/**
 * A one-line-or-more description of anything thrown or rejected, for log messages: the `message`
 * of an `Error` (prefixed with its class unless that is plain `Error` or `Object`), the text of anything
 * else. It never throws, whatever it is given: thrown values come from users' callbacks and from
 * request data, and a description built in a `close` listener or a timer that threw would crash
 * the process (`throw Object.create(null)`, a `message` getter that throws, a revoked Proxy).
 * Descriptions longer than {@link MAX_ERROR_DESCRIPTION_LENGTH} characters are cut.
 *
 * @example
 * ```ts
 * try {
 *   callback(request);
 * } catch (error) {
 *   logger.warn(`http.observe[0] threw: ${describeError(error)}`);
 * }
 * ```
 */
export function describeError(error: unknown): string {
  let text: string;
  try {
    text = describe(error);
  } catch {
    text = UNPRINTABLE;
  }
  return text.length > MAX_ERROR_DESCRIPTION_LENGTH ? `${text.slice(0, MAX_ERROR_DESCRIPTION_LENGTH)}…` : text;
}

function describe(error: unknown): string {
  if (typeof error === 'string') return error;
  // Symbols too, where a template literal would throw.
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- any thrown value is described, whatever its type
  if (typeof error !== 'object' && typeof error !== 'function') return String(error);
  if (error === null) return 'null';
  const message = attempt(() => (error as { message?: unknown }).message);
  if (typeof message === 'string') {
    const name = className(error);
    return name === undefined || name === 'Error' || name === 'Object' ? message : `${name}: ${message}`;
  }
  // An object's own `toString` (or a Proxy's traps) may throw, or return something other than a string.
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- the object's own toString, guarded by attempt()
  const text = attempt(() => String(error));
  if (typeof text === 'string') return text;
  const name = className(error);
  return name === undefined ? UNPRINTABLE : `a value of class ${name} that cannot be described`;
}

/** The class of an object as its prototype says (an own `constructor` property does not count). */
function className(value: unknown): string | undefined {
  const name = attempt(() => {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto === null || typeof proto !== 'object') return undefined;
    const ctor = Object.getOwnPropertyDescriptor(proto, 'constructor')?.value as unknown;
    return typeof ctor === 'function' ? ctor.name : undefined;
  });
  return typeof name === 'string' && name !== '' ? name : undefined;
}

function attempt<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}
