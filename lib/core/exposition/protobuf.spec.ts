import {
  decodeProtobufExposition,
  labelsOf,
  nativeBuckets,
  PROMETHEUS_PROTOBUF_ACCEPT,
} from '../../../test/utils/protobuf-exposition.js';
import { NativeHistogram, resolveNativeHistogramConfig } from '../native-histogram.js';
import { acceptsProtobuf, encodeMetricFamilies, type JsonMetricFamily } from './protobuf.js';

describe('acceptsProtobuf', () => {
  it('takes the Accept header of Prometheus with native histograms on', () => {
    expect(acceptsProtobuf(PROMETHEUS_PROTOBUF_ACCEPT)).toBe(true);
    expect(
      acceptsProtobuf('application/vnd.google.protobuf; proto="io.prometheus.client.MetricFamily"; encoding=delimited'),
    ).toBe(true);
  });

  it('refuses other encodings, other messages, and protobuf ranked below another type', () => {
    expect(acceptsProtobuf(undefined)).toBe(false);
    expect(acceptsProtobuf('application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5')).toBe(false);
    expect(
      acceptsProtobuf('application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text'),
    ).toBe(false);
    expect(acceptsProtobuf('application/vnd.google.protobuf;proto=other.Message;encoding=delimited')).toBe(false);
    expect(
      acceptsProtobuf(
        'text/plain;q=0.9,application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5',
      ),
    ).toBe(false);
    expect(
      acceptsProtobuf('application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0'),
    ).toBe(false);
  });
});

describe('encodeMetricFamilies', () => {
  it('writes a counter with its exemplar, timestamp split into seconds and nanos', () => {
    const body = encodeMetricFamilies([
      {
        name: 'jobs_total',
        help: 'Jobs',
        type: 'counter',
        values: [
          {
            labels: { queue: 'a' },
            value: 2,
            exemplar: { labelSet: { trace_id: 'abc' }, value: 2, timestamp: 1700000000.25 },
          },
        ],
      },
    ]);
    const [family] = decodeProtobufExposition(body);
    expect([family.name, family.help, family.type]).toEqual(['jobs_total', 'Jobs', 'COUNTER']);
    expect(labelsOf(family.metric[0])).toEqual({ queue: 'a' });
    expect(family.metric[0].counter?.value).toBe(2);
    expect(family.metric[0].counter?.exemplar?.timestamp).toEqual({ seconds: 1700000000, nanos: 250000000 });
  });

  it('writes native buckets as spans and deltas, and classic buckets without +Inf', () => {
    const native = new NativeHistogram(resolveNativeHistogramConfig({ bucketFactor: 1.2 }));
    for (const v of [0, 1, 1.2, 1.4, 1.8, 2, -1]) native.observe(v);
    const body = encodeMetricFamilies([
      {
        name: 'latency',
        help: 'Latency',
        type: 'histogram',
        values: [
          { labels: { le: 1, path: '/' }, value: 3, metricName: 'latency_bucket' },
          { labels: { le: '+Inf', path: '/' }, value: 7, metricName: 'latency_bucket' },
          { labels: { path: '/' }, value: 6.4, metricName: 'latency_sum' },
          { labels: { path: '/' }, value: 7, metricName: 'latency_count', native: native.snapshot() },
        ],
      },
    ]);
    const [family] = decodeProtobufExposition(body);
    expect(family.metric).toHaveLength(1);
    const h = family.metric[0].histogram;
    expect(labelsOf(family.metric[0])).toEqual({ path: '/' });
    expect(h?.bucket).toEqual([{ cumulative_count: 3, cumulative_count_float: 0, upper_bound: 1, exemplar: null }]);
    expect([h?.sample_count, h?.sample_sum, h?.schema, h?.zero_count]).toEqual([7, 6.4, 2, 1]);
    expect(h?.positive_span).toEqual([{ offset: 0, length: 5 }]);
    expect(h?.positive_delta).toEqual([1, -1, 2, -2, 2]);
    expect([...nativeBuckets(h?.negative_span ?? [], h?.negative_delta ?? [])]).toEqual([[0, 1]]);
  });

  it('marks an empty native histogram with a zero threshold of 0 by a no-op span', () => {
    const native = new NativeHistogram(resolveNativeHistogramConfig({ zeroThreshold: 0 }));
    const [family] = decodeProtobufExposition(
      encodeMetricFamilies([
        {
          name: 'idle',
          help: '',
          type: 'histogram',
          values: [{ labels: {}, value: 0, metricName: 'idle_count', native: native.snapshot() }],
        },
      ]),
    );
    expect(family.metric[0].histogram?.positive_span).toEqual([{ offset: 0, length: 0 }]);
  });

  it('writes summaries, gauges, unknown types as untyped, and only the families asked for', () => {
    const families: JsonMetricFamily[] = [
      {
        name: 'size',
        help: 'Sizes',
        type: 'summary',
        values: [
          { labels: { quantile: 0.5 }, value: 15 },
          { labels: {}, value: 30, metricName: 'size_sum' },
          { labels: {}, value: 2, metricName: 'size_count' },
        ],
      },
      { name: 'temp', help: '', type: 'gauge', values: [{ labels: {}, value: -1.5 }] },
      { name: 'odd', help: '', type: 'stateset', values: [{ labels: {}, value: 1 }] },
    ];
    const decoded = decodeProtobufExposition(encodeMetricFamilies(families));
    expect(decoded.map(f => f.type)).toEqual(['SUMMARY', 'GAUGE', 'UNTYPED']);
    expect(decoded[0].metric[0].summary).toEqual({
      sample_count: 2,
      sample_sum: 30,
      quantile: [{ quantile: 0.5, value: 15 }],
    });
    expect(decoded[1].metric[0].gauge?.value).toBe(-1.5);
    expect(decoded[2].metric[0].untyped?.value).toBe(1);
    expect(decodeProtobufExposition(encodeMetricFamilies(families, ['temp'])).map(f => f.name)).toEqual(['temp']);
  });
});
