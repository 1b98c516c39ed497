import {
  bucketGrowth,
  bucketKey,
  bucketUpperBound,
  coarsen,
  DEFAULT_NATIVE_ZERO_THRESHOLD,
  mergeNativeHistograms,
  NativeHistogram,
  resolveNativeHistogramConfig,
  schemaForBucketFactor,
  toSpans,
} from './native-histogram.js';

/** What the protobuf exposition would carry for these observations. */
function exposed(
  observations: number[],
  options: { bucketFactor?: number; maxBuckets?: number; zeroThreshold?: number },
) {
  const h = new NativeHistogram(resolveNativeHistogramConfig(options));
  for (const v of observations) h.observe(v);
  const s = h.snapshot();
  return {
    schema: s.schema,
    zeroCount: s.zeroCount,
    count: s.count,
    sum: s.sum,
    positive: toSpans(s.positive),
    negative: toSpans(s.negative),
  };
}

describe('schemaForBucketFactor', () => {
  it('picks the largest schema whose buckets are no wider than the factor', () => {
    expect(schemaForBucketFactor(1.1)).toBe(3);
    expect(schemaForBucketFactor(1.2)).toBe(2);
    expect(schemaForBucketFactor(2)).toBe(0);
    expect(schemaForBucketFactor(4)).toBe(-1);
    expect(schemaForBucketFactor(17)).toBe(-2);
    expect(schemaForBucketFactor(2 ** (1 / 8))).toBe(3);
    for (let f = 1.003; f < 100; f *= 1.37)
      expect(bucketGrowth(schemaForBucketFactor(f))).toBeLessThanOrEqual(f * (1 + 1e-12));
  });

  it('clamps to the schemas Prometheus accepts', () => {
    expect(schemaForBucketFactor(1.000001)).toBe(8);
    expect(schemaForBucketFactor(1e12)).toBe(-4);
  });
});

describe('bucketKey', () => {
  it('puts a value exactly on a bound in the bucket below it', () => {
    for (let schema = -4; schema <= 8; schema++) expect(bucketKey(1, schema)).toBe(0);
    expect(bucketKey(2, 3)).toBe(8);
    expect(bucketKey(2, 0)).toBe(1);
    expect(bucketKey(0.5, 0)).toBe(-1);
    expect(bucketKey(4, -1)).toBe(1);
    expect(bucketKey(4.000001, -1)).toBe(2);
    expect(bucketKey(16, -2)).toBe(1);
  });

  it('agrees with the definition (lower bound < value <= upper bound) at every schema', () => {
    const values = [1e-300, 3e-9, 0.0001234, 0.017, 0.1, 0.25, 0.3333, 0.999, 1.0001, 1.5, 3, 7.77, 123.4, 9e5, 1e200];
    for (let schema = -4; schema <= 8; schema++) {
      for (const v of values) {
        const key = bucketKey(v, schema);
        expect(bucketUpperBound(schema, key - 1)).toBeLessThan(v * (1 + 1e-12));
        expect(bucketUpperBound(schema, key)).toBeGreaterThanOrEqual(v * (1 - 1e-12));
      }
    }
  });

  it('reads subnormal values too', () => {
    expect(bucketKey(Number.MIN_VALUE, 0)).toBe(-1074);
    expect(bucketKey(Number.MIN_VALUE * 3, 0)).toBe(-1072);
  });
});

describe('NativeHistogram', () => {
  it('counts zero in the zero bucket and the rest by schema (factor 1.1: schema 3)', () => {
    const h = exposed([0, 1, 2, 3], {});
    expect(h).toEqual({
      schema: 3,
      zeroCount: 1,
      count: 4,
      sum: 6,
      positive: {
        spans: [
          [0, 1],
          [7, 1],
          [4, 1],
        ],
        deltas: [1, 0, 0],
      },
      negative: { spans: [], deltas: [] },
    });
  });

  it('writes neighbouring buckets as one span of deltas (factor 1.2: schema 2)', () => {
    const h = exposed([0, 1, 1.2, 1.4, 1.8, 2], { bucketFactor: 1.2 });
    expect(h.schema).toBe(2);
    expect(h.positive).toEqual({ spans: [[0, 5]], deltas: [1, -1, 2, -2, 2] });
  });

  it('keys negative values by their magnitude', () => {
    const h = exposed([0, -1, -1.2, -1.4, -1.8, -2], { bucketFactor: 1.2 });
    expect(h.negative).toEqual({ spans: [[0, 5]], deltas: [1, -1, 2, -2, 2] });
    expect(h.positive.spans).toEqual([]);
    expect(h.sum).toBeCloseTo(-7.4, 12);
  });

  it('takes everything within the zero threshold into the zero bucket', () => {
    const h = exposed([0, -1, -1.2, -1.4, -1.8, -2, 1, 1.2, 1.4, 1.8, 2], { bucketFactor: 1.2, zeroThreshold: 1.4 });
    expect(h.zeroCount).toBe(7);
    expect(h.positive).toEqual({ spans: [[4, 1]], deltas: [2] });
    expect(h.negative).toEqual({ spans: [[4, 1]], deltas: [2] });
  });

  it('halves the resolution when the populated buckets exceed maxBuckets', () => {
    const h = exposed([0, 1, 1.1, 1.2, 1.4, 1.8, 2, 3], { bucketFactor: 1.2, maxBuckets: 4 });
    expect(h.schema).toBe(1);
    expect(h.positive).toEqual({ spans: [[0, 5]], deltas: [1, 2, -1, -2, 1] });
    expect(h.count).toBe(8);
  });

  it('does not reduce when the limit is only reached', () => {
    expect(exposed([0, 1, 1.2, 1.4, 1.8, 2], { bucketFactor: 1.2, maxBuckets: 4 }).schema).toBe(2);
  });

  it('counts NaN without a bucket', () => {
    const h = exposed([1, NaN], {});
    expect(h.count).toBe(2);
    expect(h.sum).toBeNaN();
    expect(h.positive.deltas).toEqual([1]);
    expect(h.zeroCount).toBe(0);
  });

  it('stays bounded in memory for values far apart, by coarsening', () => {
    const h = new NativeHistogram(resolveNativeHistogramConfig({ bucketFactor: 1.001 }));
    h.observe(1e-30);
    h.observe(1e200);
    h.observe(Infinity);
    const s = h.snapshot();
    expect(s.positive.counts.length).toBeLessThanOrEqual(4096);
    expect(s.schema).toBeLessThan(8);
    expect(s.positive.counts.reduce((a, b) => a + b, 0)).toBe(3);
  });

  it('starts again at the configured schema after reset', () => {
    const h = new NativeHistogram(resolveNativeHistogramConfig({ bucketFactor: 1.2, maxBuckets: 1 }));
    h.observe(1);
    h.observe(1.5);
    expect(h.schema).toBeLessThan(2);
    h.reset();
    expect(h.snapshot()).toEqual({
      schema: 2,
      zeroThreshold: DEFAULT_NATIVE_ZERO_THRESHOLD,
      zeroCount: 0,
      count: 0,
      sum: 0,
      positive: { offset: 0, counts: [] },
      negative: { offset: 0, counts: [] },
    });
  });

  it('estimates quantiles within the schema growth factor', () => {
    const h = new NativeHistogram(resolveNativeHistogramConfig({}));
    const values: number[] = [];
    for (let i = 1; i <= 1000; i++) values.push(0.001 * i ** 1.7);
    for (const v of values) h.observe(v);
    const s = h.snapshot();
    const growth = bucketGrowth(s.schema);
    for (const q of [0.5, 0.9, 0.99]) {
      const truth = values[Math.ceil(q * values.length) - 1];
      // The bucket holding the rank: its upper bound is within one growth factor of the truth.
      let rank = 0;
      let key = s.positive.offset;
      for (let i = 0; i < s.positive.counts.length; i++, key++) {
        rank += s.positive.counts[i];
        if (rank >= q * values.length) break;
      }
      const upper = bucketUpperBound(s.schema, key);
      expect(upper).toBeGreaterThanOrEqual(truth);
      expect(upper / growth).toBeLessThan(truth);
    }
  });
});

describe('merging native histograms', () => {
  it('brings both to the coarser schema and adds the buckets', () => {
    const a = new NativeHistogram(resolveNativeHistogramConfig({ bucketFactor: 1.2 }));
    const b = new NativeHistogram(resolveNativeHistogramConfig({ bucketFactor: 1.2, maxBuckets: 2 }));
    const both = new NativeHistogram(resolveNativeHistogramConfig({ bucketFactor: 1.2 }));
    for (const v of [0.5, 1, 1.2, 1.4]) {
      a.observe(v);
      both.observe(v);
    }
    for (const v of [1.8, 2, 3, 5, -2]) {
      b.observe(v);
      both.observe(v);
    }
    const merged = mergeNativeHistograms(a.snapshot(), b.snapshot());
    expect(merged.schema).toBe(b.schema);
    const reference = both.snapshot();
    expect(merged.count).toBe(9);
    expect(merged.sum).toBeCloseTo(reference.sum, 12);
    expect(toSpans(merged.positive)).toEqual(toSpans(coarsen(reference.positive, reference.schema - merged.schema)));
    expect(toSpans(merged.negative)).toEqual(toSpans(coarsen(reference.negative, reference.schema - merged.schema)));
  });
});

describe('toSpans', () => {
  it('bridges gaps of up to two empty buckets and starts a new span after longer ones', () => {
    expect(toSpans({ offset: -2, counts: [1, 0, 0, 4] })).toEqual({ spans: [[-2, 4]], deltas: [1, -1, 0, 4] });
    expect(toSpans({ offset: -2, counts: [1, 0, 0, 0, 3] })).toEqual({
      spans: [
        [-2, 1],
        [3, 1],
      ],
      deltas: [1, 2],
    });
    expect(toSpans({ offset: 5, counts: [0, 0, 2] })).toEqual({ spans: [[7, 1]], deltas: [2] });
  });
});
