import { DEFAULT_DURATION_BUCKETS } from '../core/core.constants.js';
import { resolveNativeHistograms } from '../core/native-histogram-options.js';
import { patternList, prefixAndBuckets } from '../core/option-checks.js';
import type { HttpClientMetricsOptions } from '../interfaces/index.js';
import type { ResolvedHttpClientOptions } from '../interfaces/resolved-options.interface.js';

const WHERE = 'PrometheusModule options.httpClient';

/** Checks `options.httpClient` and merges its defaults; `false` unless `enabled: true`. */
export function resolveHttpClientOptions(o: HttpClientMetricsOptions | undefined): ResolvedHttpClientOptions | false {
  if (o === undefined || o.enabled !== true) return false;
  const { prefix, buckets } = prefixAndBuckets(o, 'http_client_requests_total', DEFAULT_DURATION_BUCKETS, WHERE);
  const hosts = o.hosts === undefined ? undefined : patternList(o.hosts, `${WHERE}.hosts`);
  return {
    prefix,
    hosts,
    buckets,
    nativeHistograms: resolveNativeHistograms(o.nativeHistograms, `${WHERE}.nativeHistograms`),
  };
}
