/**
 * A decoder of the delimited protobuf exposition for tests: the schema of prometheus/client_model's
 * metrics.proto declared here and parsed by protobufjs' full build (the library itself only
 * encodes, with the minimal Writer), so the tests read the bytes with an independent schema.
 */
import protobuf from 'protobufjs';

const METRICS_PROTO = `
syntax = "proto2";
package io.prometheus.client;
message LabelPair { optional string name = 1; optional string value = 2; }
enum MetricType { COUNTER = 0; GAUGE = 1; SUMMARY = 2; UNTYPED = 3; HISTOGRAM = 4; GAUGE_HISTOGRAM = 5; }
message Gauge { optional double value = 1; }
message Timestamp { optional int64 seconds = 1; optional int32 nanos = 2; }
message Counter { optional double value = 1; optional Exemplar exemplar = 2; }
message Quantile { optional double quantile = 1; optional double value = 2; }
message Summary { optional uint64 sample_count = 1; optional double sample_sum = 2; repeated Quantile quantile = 3; }
message Untyped { optional double value = 1; }
message Histogram {
  optional uint64 sample_count = 1;
  optional double sample_count_float = 4;
  optional double sample_sum = 2;
  repeated Bucket bucket = 3;
  optional sint32 schema = 5;
  optional double zero_threshold = 6;
  optional uint64 zero_count = 7;
  optional double zero_count_float = 8;
  repeated BucketSpan negative_span = 9;
  repeated sint64 negative_delta = 10;
  repeated double negative_count = 11;
  repeated BucketSpan positive_span = 12;
  repeated sint64 positive_delta = 13;
  repeated double positive_count = 14;
}
message Bucket { optional uint64 cumulative_count = 1; optional double cumulative_count_float = 4; optional double upper_bound = 2; optional Exemplar exemplar = 3; }
message BucketSpan { optional sint32 offset = 1; optional uint32 length = 2; }
message Exemplar { repeated LabelPair label = 1; optional double value = 2; optional Timestamp timestamp = 3; }
message Metric {
  repeated LabelPair label = 1;
  optional Gauge gauge = 2;
  optional Counter counter = 3;
  optional Summary summary = 4;
  optional Untyped untyped = 5;
  optional Histogram histogram = 7;
  optional int64 timestamp_ms = 6;
}
message MetricFamily { optional string name = 1; optional string help = 2; optional MetricType type = 3; repeated Metric metric = 4; }
`;

const MetricFamily = protobuf
  .parse(METRICS_PROTO, { keepCase: true })
  .root.lookupType('io.prometheus.client.MetricFamily');

export interface DecodedExemplar {
  label: { name: string; value: string }[];
  value: number;
  timestamp?: { seconds: number; nanos: number };
}

export interface DecodedMetric {
  label: { name: string; value: string }[];
  gauge?: { value: number };
  counter?: { value: number; exemplar?: DecodedExemplar };
  untyped?: { value: number };
  summary?: { sample_count: number; sample_sum: number; quantile: { quantile: number; value: number }[] };
  histogram?: {
    sample_count: number;
    sample_sum: number;
    bucket: { cumulative_count: number; upper_bound: number; exemplar?: DecodedExemplar }[];
    schema?: number;
    zero_threshold?: number;
    zero_count?: number;
    negative_span: { offset: number; length: number }[];
    negative_delta: number[];
    positive_span: { offset: number; length: number }[];
    positive_delta: number[];
  };
}

export interface DecodedFamily {
  name: string;
  help: string;
  type: 'COUNTER' | 'GAUGE' | 'SUMMARY' | 'UNTYPED' | 'HISTOGRAM' | 'GAUGE_HISTOGRAM';
  metric: DecodedMetric[];
}

/** Decodes every length-prefixed MetricFamily of a body; throws on any malformed byte. */
export function decodeProtobufExposition(body: Uint8Array): DecodedFamily[] {
  const reader = protobuf.Reader.create(body);
  const families: DecodedFamily[] = [];
  while (reader.pos < reader.len) {
    const message = MetricFamily.decodeDelimited(reader);
    families.push(
      MetricFamily.toObject(message, { longs: Number, enums: String, defaults: true, arrays: true }) as DecodedFamily,
    );
  }
  return families;
}

/** A metric's labels as an object. */
export function labelsOf(metric: { label: { name: string; value: string }[] }): Record<string, string> {
  return Object.fromEntries(metric.label.map(l => [l.name, l.value]));
}

/** The Accept header Prometheus 2.42 sends with `--enable-feature=native-histograms`. */
export const PROMETHEUS_PROTOBUF_ACCEPT =
  'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,' +
  'application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,' +
  'text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

/** Bucket counts by key of one side of a native histogram, from its spans and deltas. */
export function nativeBuckets(spans: { offset: number; length: number }[], deltas: number[]): Map<number, number> {
  const buckets = new Map<number, number>();
  let key = 0;
  let count = 0;
  let d = 0;
  spans.forEach((span, i) => {
    key = i === 0 ? span.offset : key + span.offset;
    for (let j = 0; j < span.length; j++, key++) {
      count += deltas[d++];
      if (count !== 0) buckets.set(key, count);
    }
  });
  return buckets;
}
