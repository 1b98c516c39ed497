import type { NativeHistogramOptions } from '../interfaces/prometheus-module-options.interface.js';
import type { ResolvedNativeHistograms } from '../interfaces/resolved-options.interface.js';
import { resolveNativeHistogramConfig } from './native-histogram.js';

export type { ResolvedNativeHistograms };

const KEYS = new Set(['bucketFactor', 'maxBuckets', 'zeroThreshold', 'classicBuckets']);

/**
 * Checks a `nativeHistograms` option (`true`, `false`, or {@link NativeHistogramOptions}) and
 * fills in its defaults; `false` when off. Throws an error naming `where` and the faulty key.
 *
 * @example
 * resolveNativeHistograms({ bucketFactor: 1.05 }, 'PrometheusModule options.http.nativeHistograms');
 */
export function resolveNativeHistograms(
  value: boolean | NativeHistogramOptions | undefined,
  where: string,
): ResolvedNativeHistograms | false {
  if (value === undefined || value === false) return false;
  if (value === true) return { config: resolveNativeHistogramConfig({}), classicBuckets: true };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${where} must be true, false or an object, not ${describe(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!KEYS.has(key)) throw new Error(`${where}.${key} is not an option (use ${[...KEYS].join(', ')})`);
  }
  const { bucketFactor, maxBuckets, zeroThreshold, classicBuckets } = value;
  if (
    bucketFactor !== undefined &&
    !(typeof bucketFactor === 'number' && bucketFactor > 1 && bucketFactor < Infinity)
  ) {
    throw new Error(`${where}.bucketFactor must be a number > 1, not ${describe(bucketFactor)}`);
  }
  if (maxBuckets !== undefined && !(Number.isInteger(maxBuckets) && maxBuckets >= 1)) {
    throw new Error(`${where}.maxBuckets must be a whole number >= 1, not ${describe(maxBuckets)}`);
  }
  if (
    zeroThreshold !== undefined &&
    !(typeof zeroThreshold === 'number' && zeroThreshold >= 0 && zeroThreshold < Infinity)
  ) {
    throw new Error(`${where}.zeroThreshold must be a number >= 0, not ${describe(zeroThreshold)}`);
  }
  if (classicBuckets !== undefined && typeof classicBuckets !== 'boolean') {
    throw new Error(`${where}.classicBuckets must be a boolean, not ${describe(classicBuckets)}`);
  }
  return {
    config: resolveNativeHistogramConfig({ bucketFactor, maxBuckets, zeroThreshold }),
    classicBuckets: classicBuckets ?? true,
  };
}

/** A value for an error message; never throws (a hostile object's toString is not called). */
function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined)
    return String(value);
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}
