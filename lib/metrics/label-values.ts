/** The class name of what was thrown, as the `exception` label gives it. */
export function exceptionName(error: unknown): string {
  if (typeof error === 'object' && error !== null) return error.constructor?.name || 'Object';
  return typeof error;
}

/** Whether `value` is the string, or passes the RegExp (global or sticky ones from the start). */
export function matchesPattern(pattern: string | RegExp, value: string): boolean {
  if (typeof pattern === 'string') return pattern === value;
  pattern.lastIndex = 0;
  return pattern.test(value);
}
