// Prometheus native (sparse, exponential) histograms: the bucket arithmetic, the per-series state
// and the merge of two series. The definitions follow the Prometheus data model (see
// client_golang's prometheus/histogram.go): at schema s a bucket's upper bound is
// 2^(key * 2^-s), so each bucket is 2^(2^-s) times wider than the one below it, bucket 0 is
// (2^-(2^-s), 1], and a value exactly on a bound belongs to the bucket below.

import type { NativeHistogramConfig } from '../interfaces/resolved-options.interface.js';

export type { NativeHistogramConfig };

/** The finest schema Prometheus accepts: 256 buckets per power of two. */
export const MAX_NATIVE_SCHEMA = 8;
/** The coarsest schema: one bucket per 2^16. Resolution reduction stops here. */
export const MIN_NATIVE_SCHEMA = -4;
/** The bucket factor when none is given: schema 3, buckets 2^(1/8) ≈ 1.0905 wide. */
export const DEFAULT_NATIVE_BUCKET_FACTOR = 1.1;
/** The bucket count past which resolution is reduced, when none is given. */
export const DEFAULT_NATIVE_MAX_BUCKETS = 160;
/** client_golang's default zero threshold (2^-128): only values that are zero for all purposes. */
export const DEFAULT_NATIVE_ZERO_THRESHOLD = 2 ** -128;
/**
 * The most bucket slots (from the lowest populated key to the highest) one side of a series may
 * span. Buckets are kept dense, so that an observation is an array increment; a series whose
 * values span more slots than this (values 2^500 apart at schema 3) is coarsened as if it had
 * too many buckets, rather than holding a huge array.
 */
export const MAX_NATIVE_BUCKET_SPAN = 4096;

/**
 * The schema whose bucket growth factor 2^(2^-schema) is the largest not above `bucketFactor`
 * (so the buckets are at most as wide as asked), clamped to [-4, 8].
 *
 * @example
 * schemaForBucketFactor(1.1); // 3: buckets 2^(1/8) ≈ 1.0905 wide
 * schemaForBucketFactor(2); // 0
 */
export function schemaForBucketFactor(bucketFactor: number): number {
  // The epsilon keeps an exact factor such as 2^(1/8) at its own schema despite rounding in log2.
  const schema = -Math.floor(Math.log2(Math.log2(bucketFactor)) + 1e-9);
  // `+ 0` turns -0 (factor 2) into 0.
  return Math.min(MAX_NATIVE_SCHEMA, Math.max(MIN_NATIVE_SCHEMA, schema)) + 0;
}

/**
 * The growth factor of a schema's buckets: a quantile estimated from a native histogram lies
 * within this factor of the true one.
 *
 * @example
 * bucketGrowth(3); // 1.0905...
 */
export function bucketGrowth(schema: number): number {
  return 2 ** (2 ** -schema);
}

/**
 * The upper bound of bucket `key` at `schema` (the lower bound is that of `key - 1`).
 *
 * @example
 * bucketUpperBound(0, 8); // 1
 * bucketUpperBound(3, 8); // 2
 */
export function bucketUpperBound(schema: number, key: number): number {
  return 2 ** (key * 2 ** -schema);
}

/**
 * A layout with defaults filled in, from the options users give.
 *
 * @example
 * resolveNativeHistogramConfig({ bucketFactor: 1.05 }); // { schema: 4, maxBuckets: 160, zeroThreshold: 2^-128 }
 */
export function resolveNativeHistogramConfig(options: {
  bucketFactor?: number;
  maxBuckets?: number;
  zeroThreshold?: number;
}): NativeHistogramConfig {
  return {
    schema: schemaForBucketFactor(options.bucketFactor ?? DEFAULT_NATIVE_BUCKET_FACTOR),
    maxBuckets: options.maxBuckets ?? DEFAULT_NATIVE_MAX_BUCKETS,
    zeroThreshold: options.zeroThreshold ?? DEFAULT_NATIVE_ZERO_THRESHOLD,
  };
}

// frexp() without allocation: the value's exponent and mantissa read from its IEEE 754 bits.
const float = new Float64Array(1);
const words = new Uint32Array(float.buffer);
const HIGH = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;
/** Mantissa bounds in [0.5, 1) per positive schema: bucket j of an octave ends at 2^(j/2^s) / 2. */
const MANTISSA_BOUNDS: Float64Array[] = [];
for (let schema = 1; schema <= MAX_NATIVE_SCHEMA; schema++) {
  const n = 2 ** schema;
  const bounds = new Float64Array(n);
  for (let j = 0; j < n; j++) bounds[j] = 2 ** (j / n) / 2;
  MANTISSA_BOUNDS[schema] = bounds;
}

/**
 * The key of the bucket that holds `value` (> 0, finite) at `schema`: the smallest key whose
 * upper bound is at least `value`.
 *
 * @example
 * bucketKey(1, 3); // 0
 * bucketKey(1.05, 3); // 1: (1, 1.0905]
 */
export function bucketKey(value: number, schema: number): number {
  float[0] = value;
  let high = words[HIGH];
  let exponent = (high >>> 20) & 0x7ff;
  let shift = 0;
  if (exponent === 0) {
    // Subnormal: scale into the normal range first.
    float[0] = value * 2 ** 64;
    high = words[HIGH];
    exponent = (high >>> 20) & 0x7ff;
    shift = 64;
  }
  // value = mantissa * 2^exp with mantissa in [0.5, 1), as Go's math.Frexp.
  const exp = exponent - 1022 - shift;
  words[HIGH] = (high & 0x800fffff) | 0x3fe00000;
  const mantissa = float[0];
  if (schema > 0) {
    const bounds = MANTISSA_BOUNDS[schema];
    // The first bound >= mantissa (a binary search over at most 256 bounds).
    let lo = 0;
    let hi = bounds.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (bounds[mid] < mantissa) lo = mid + 1;
      else hi = mid;
    }
    return lo + (exp - 1) * bounds.length;
  }
  // Schema <= 0: the power of two's key, then 2^-schema powers of two per bucket (rounding up).
  const key = mantissa === 0.5 ? exp - 1 : exp;
  const shiftBy = -schema;
  return (key + (1 << shiftBy) - 1) >> shiftBy;
}

/** One side (positive or negative values) of a native histogram: dense counts from key `offset`. */
export interface NativeBucketsSnapshot {
  offset: number;
  counts: number[];
}

/**
 * A native histogram's state at one scrape: plain JSON, so cluster workers can send it to the
 * primary. `positive.counts[i]` is the count of bucket `positive.offset + i`; likewise negative
 * (for values below `-zeroThreshold`, keyed by their absolute value).
 */
export interface NativeHistogramSnapshot {
  schema: number;
  zeroThreshold: number;
  zeroCount: number;
  count: number;
  sum: number;
  positive: NativeBucketsSnapshot;
  negative: NativeBucketsSnapshot;
}

class DenseBuckets {
  offset = 0;
  counts: number[] = [];

  /** Adds one to bucket `key`; returns whether the bucket was empty before (so it is populated now). */
  add(key: number): boolean {
    const counts = this.counts;
    if (counts.length === 0) {
      this.offset = key;
      counts.push(1);
      return true;
    }
    let index = key - this.offset;
    if (index < 0) {
      // Rare: the range grows downwards. Prepend the missing slots at once.
      const grow = new Array<number>(-index).fill(0);
      this.counts = grow.concat(counts);
      this.offset = key;
      index = 0;
    } else if (index >= counts.length) {
      while (counts.length <= index) counts.push(0);
    }
    return this.counts[index]++ === 0;
  }

  /** Would adding `key` make this side span more than {@link MAX_NATIVE_BUCKET_SPAN} slots? */
  tooWide(key: number): boolean {
    const n = this.counts.length;
    if (n === 0) return false;
    const low = Math.min(this.offset, key);
    const high = Math.max(this.offset + n - 1, key);
    return high - low + 1 > MAX_NATIVE_BUCKET_SPAN;
  }

  /** Merges pairs of buckets: the same counts at schema - 1. */
  halve(): void {
    const counts = this.counts;
    if (counts.length === 0) return;
    const offset = this.offset;
    const newOffset = (offset + 1) >> 1;
    const last = (offset + counts.length - 1 + 1) >> 1;
    const merged = new Array<number>(last - newOffset + 1).fill(0);
    for (let i = 0; i < counts.length; i++) merged[((offset + i + 1) >> 1) - newOffset] += counts[i];
    this.offset = newOffset;
    this.counts = merged;
  }

  populated(): number {
    let n = 0;
    for (const c of this.counts) if (c !== 0) n++;
    return n;
  }

  reset(): void {
    this.offset = 0;
    this.counts = [];
  }

  snapshot(): NativeBucketsSnapshot {
    return { offset: this.offset, counts: this.counts.slice() };
  }
}

/**
 * The native histogram of one series. `observe` is an exponent read, a search in a table of at
 * most 256 bounds and an array increment; when the populated buckets exceed `maxBuckets`, the
 * schema is lowered by one (each pair of buckets merged), as often as needed, down to -4.
 *
 * @example
 * const h = new NativeHistogram(resolveNativeHistogramConfig({}));
 * h.observe(0.25);
 * h.snapshot().count; // 1
 */
export class NativeHistogram {
  schema: number;
  zeroCount = 0;
  count = 0;
  sum = 0;
  private readonly positive = new DenseBuckets();
  private readonly negative = new DenseBuckets();
  /** Populated buckets of both sides. */
  private populated = 0;

  constructor(readonly config: NativeHistogramConfig) {
    this.schema = config.schema;
  }

  observe(value: number): void {
    this.count++;
    this.sum += value;
    const threshold = this.config.zeroThreshold;
    if (value > threshold) {
      this.addTo(this.positive, value > Number.MAX_VALUE ? Number.MAX_VALUE : value);
    } else if (value < -threshold) {
      this.addTo(this.negative, value < -Number.MAX_VALUE ? Number.MAX_VALUE : -value);
    } else if (value === value) {
      this.zeroCount++;
    }
    // NaN: counted, in the sum (which becomes NaN, as in client_golang), in no bucket.
  }

  private addTo(side: DenseBuckets, magnitude: number): void {
    let key = bucketKey(magnitude, this.schema);
    // Fast path: a bucket within the range already held, populated before.
    const index = key - side.offset;
    const counts = side.counts;
    if (index >= 0 && index < counts.length && counts[index] !== 0) {
      counts[index]++;
      return;
    }
    while (side.tooWide(key) && this.schema > MIN_NATIVE_SCHEMA) {
      this.reduceResolution();
      key = bucketKey(magnitude, this.schema);
    }
    if (side.add(key)) {
      this.populated++;
      if (this.populated > this.config.maxBuckets) {
        while (this.populated > this.config.maxBuckets && this.schema > MIN_NATIVE_SCHEMA) this.reduceResolution();
      }
    }
  }

  /** Lowers the schema by one: bucket k becomes bucket ceil(k / 2). */
  private reduceResolution(): void {
    this.schema--;
    this.positive.halve();
    this.negative.halve();
    this.populated = this.positive.populated() + this.negative.populated();
  }

  /** Back to empty, at the configured schema. */
  reset(): void {
    this.schema = this.config.schema;
    this.zeroCount = 0;
    this.count = 0;
    this.sum = 0;
    this.positive.reset();
    this.negative.reset();
    this.populated = 0;
  }

  snapshot(): NativeHistogramSnapshot {
    return {
      schema: this.schema,
      zeroThreshold: this.config.zeroThreshold,
      zeroCount: this.zeroCount,
      count: this.count,
      sum: this.sum,
      positive: this.positive.snapshot(),
      negative: this.negative.snapshot(),
    };
  }
}

/**
 * The buckets of `side` at a coarser schema (`by` levels lower), merged as resolution reduction does.
 *
 * @example
 * coarsen({ offset: 1, counts: [1, 1] }, 1); // { offset: 1, counts: [2] }
 */
export function coarsen(side: NativeBucketsSnapshot, by: number): NativeBucketsSnapshot {
  let offset = side.offset;
  let counts = side.counts;
  for (let level = 0; level < by && counts.length > 0; level++) {
    const newOffset = (offset + 1) >> 1;
    const merged = new Array<number>(((offset + counts.length) >> 1) - newOffset + 1).fill(0);
    for (let i = 0; i < counts.length; i++) merged[((offset + i + 1) >> 1) - newOffset] += counts[i];
    offset = newOffset;
    counts = merged;
  }
  return { offset, counts };
}

function addSides(a: NativeBucketsSnapshot, b: NativeBucketsSnapshot): NativeBucketsSnapshot {
  if (a.counts.length === 0) return { offset: b.offset, counts: b.counts.slice() };
  if (b.counts.length === 0) return { offset: a.offset, counts: a.counts.slice() };
  const offset = Math.min(a.offset, b.offset);
  const end = Math.max(a.offset + a.counts.length, b.offset + b.counts.length);
  const counts = new Array<number>(end - offset).fill(0);
  for (let i = 0; i < a.counts.length; i++) counts[a.offset - offset + i] += a.counts[i];
  for (let i = 0; i < b.counts.length; i++) counts[b.offset - offset + i] += b.counts[i];
  return { offset, counts };
}

/**
 * The sum of two native histograms (two cluster workers' series of one label set): both brought
 * to the coarser schema, buckets added. The wider zero threshold wins; buckets of the other that
 * fall within it are not moved (the workers share one configuration, so thresholds match).
 *
 * @example
 * mergeNativeHistograms(workerA, workerB).count === workerA.count + workerB.count;
 */
export function mergeNativeHistograms(a: NativeHistogramSnapshot, b: NativeHistogramSnapshot): NativeHistogramSnapshot {
  const schema = Math.min(a.schema, b.schema);
  return {
    schema,
    zeroThreshold: Math.max(a.zeroThreshold, b.zeroThreshold),
    zeroCount: a.zeroCount + b.zeroCount,
    count: a.count + b.count,
    sum: a.sum + b.sum,
    positive: addSides(coarsen(a.positive, a.schema - schema), coarsen(b.positive, b.schema - schema)),
    negative: addSides(coarsen(a.negative, a.schema - schema), coarsen(b.negative, b.schema - schema)),
  };
}

/** Spans and deltas of one side, as the protobuf exposition writes them. */
export interface NativeSpans {
  /** [offset, length] pairs: the first offset is the first key, later ones the gap since the previous span. */
  spans: [number, number][];
  /** Each populated-or-bridged bucket's count minus the previous one's (the first: its count). */
  deltas: number[];
}

/**
 * One side's buckets as spans and deltas. Gaps of one or two empty buckets are written as zero
 * buckets rather than a new span (as client_golang does: a span costs more bytes than two zeros).
 *
 * @example
 * toSpans({ offset: -2, counts: [1, 0, 0, 0, 3] }); // { spans: [[-2, 1], [3, 1]], deltas: [1, 2] }
 */
export function toSpans(side: NativeBucketsSnapshot): NativeSpans {
  const spans: [number, number][] = [];
  const deltas: number[] = [];
  const counts = side.counts;
  let previousCount = 0;
  /** The key after the last bucket written (where the next span's offset counts from). */
  let nextKey = 0;
  let current: [number, number] | undefined;
  let i = 0;
  while (i < counts.length) {
    if (counts[i] === 0) {
      i++;
      continue;
    }
    const key = side.offset + i;
    if (current !== undefined && key - nextKey <= 2) {
      // Bridge a short gap with zero buckets.
      for (let k = nextKey; k < key; k++) {
        deltas.push(0 - previousCount);
        previousCount = 0;
        current[1]++;
      }
    } else {
      current = [current === undefined ? key : key - nextKey, 0];
      spans.push(current);
    }
    deltas.push(counts[i] - previousCount);
    previousCount = counts[i];
    current[1]++;
    nextKey = key + 1;
    i++;
  }
  return { spans, deltas };
}
