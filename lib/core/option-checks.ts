import { Logger } from '@nestjs/common';
import { assertBuckets, assertMetricName } from './metric-names.js';

// Checks that every feature's options resolver shares, so that the same mistake gets the same
// message whichever section it is made in. `where` is the option's full name
// (`PrometheusModule options.http.buckets`), so every error names what to fix.

const logger = new Logger('PrometheusModule');

/**
 * Unknown keys are warned about, not rejected: options written for `@willsoto/nestjs-prometheus`
 * or a later version may carry keys this one does not know, and must still boot.
 */
export function warnUnknownKeys(
  options: object,
  known: ReadonlySet<string>,
  where: string,
  hints: Record<string, string> = {},
): void {
  for (const key of Object.keys(options)) {
    if (!known.has(key))
      logger.warn(`${where}: unknown option "${key}" is ignored${hints[key] ? ` (${hints[key]})` : ''}`);
  }
}

/** A list of strings and RegExps (`excludePaths`, `exclude`, `hosts`), copied. */
export function patternList(list: readonly (string | RegExp)[] | undefined, where: string): (string | RegExp)[] {
  if (list === undefined) return [];
  const items: readonly unknown[] = list;
  if (!Array.isArray(items)) throw new Error(`${where} must be an array of strings and RegExps`);
  for (const p of items) {
    if (typeof p !== 'string' && !(p instanceof RegExp)) {
      throw new Error(`${where}: ${String(p)} is neither a string nor a RegExp`);
    }
  }
  return [...list];
}

/**
 * A section's metric name prefix and duration buckets: the prefix is checked by the name it would
 * give `sampleName`, so a prefix that makes an invalid name fails here, naming the option.
 */
export function prefixAndBuckets(
  o: { prefix?: string; buckets?: readonly number[] } | undefined,
  sampleName: string,
  defaultBuckets: readonly number[],
  where: string,
): { prefix: string; buckets: number[] } {
  const prefix = o?.prefix ?? '';
  if (prefix) assertMetricName(`${prefix}${sampleName}`, `${where}.prefix`);
  const buckets = o?.buckets ?? defaultBuckets;
  assertBuckets(buckets, `${where}.buckets`);
  return { prefix, buckets: [...buckets] };
}

/** A positive whole number, or `0`/`Infinity` for no limit (returned as `Infinity`). */
export function wholeLimit(value: number | undefined, fallback: number, where: string): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== 'number' ||
    Number.isNaN(value) ||
    value < 0 ||
    (Number.isFinite(value) && !Number.isInteger(value))
  ) {
    throw new Error(`${where} must be a whole number >= 0 (0 or Infinity: no limit), not ${JSON.stringify(value)}`);
  }
  return value === 0 ? Infinity : value;
}

/** An HTTP path with one leading slash and no trailing one. */
export function normalizePath(path: string, where: string): string {
  if (typeof path !== 'string' || path.trim() === '') {
    throw new Error(`${where} must be a non-empty string or false`);
  }
  const withSlash = path.startsWith('/') ? path : `/${path}`;
  return withSlash.length > 1 ? withSlash.replace(/\/+$/, '') : withSlash;
}
