import { DEFAULT_DURATION_BUCKETS } from '../core/core.constants.js';
import { resolveNativeHistograms } from '../core/native-histogram-options.js';
import { patternList, prefixAndBuckets } from '../core/option-checks.js';
import type { TransportMetricsOptions } from '../interfaces/index.js';
import type { ResolvedTransportOptions } from '../interfaces/resolved-options.interface.js';

/** Checks `options.rpc`, `options.ws` or `options.graphql` and merges its defaults; `false`: off. */
export function resolveTransportOptions(
  o: false | TransportMetricsOptions | undefined,
  name: string,
): ResolvedTransportOptions | false {
  if (o === false) return false;
  const where = `PrometheusModule options.${name}`;
  if (o !== undefined && (typeof o !== 'object' || o === null)) throw new Error(`${where} must be false or an object`);
  const { prefix, buckets } = prefixAndBuckets(o, `${name}_requests_total`, DEFAULT_DURATION_BUCKETS, where);
  return {
    prefix,
    buckets,
    exclude: patternList(o?.exclude, `${where}.exclude`),
    nativeHistograms: resolveNativeHistograms(o?.nativeHistograms, `${where}.nativeHistograms`),
  };
}
