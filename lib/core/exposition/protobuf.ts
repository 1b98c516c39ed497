// The Prometheus protobuf exposition: io.prometheus.client.MetricFamily messages, each prefixed by
// its length (a varint), as Prometheus asks for them to read native histograms. Field numbers are
// those of prometheus/client_model's metrics.proto (proto2: repeated scalars unpacked).
// protobufjs' minimal Writer does the wire encoding: no .proto file is parsed at run time.
import protobuf from 'protobufjs/minimal.js';
import type { NativeBucketsSnapshot, NativeHistogramSnapshot } from '../native-histogram.js';
import { toSpans } from '../native-histogram.js';

/** The `Content-Type` of the protobuf exposition (the media type Prometheus asks for). */
export const PROTOBUF_CONTENT_TYPE =
  'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited';

const PROTOBUF_MEDIA_TYPE = 'application/vnd.google.protobuf';

/**
 * Whether an `Accept` header asks for the protobuf exposition before any text format: it lists
 * `application/vnd.google.protobuf` with `proto=io.prometheus.client.MetricFamily` and
 * `encoding=delimited`, at a quality no lower than any other type it lists. Prometheus with
 * `--enable-feature=native-histograms` sends it first (q=1); without the flag it does not list it.
 *
 * @example
 * acceptsProtobuf('application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,text/plain;version=0.0.4;q=0.5'); // true
 * acceptsProtobuf('text/plain'); // false
 */
export function acceptsProtobuf(accept: string | undefined): boolean {
  if (accept === undefined || !accept.includes(PROTOBUF_MEDIA_TYPE)) return false;
  let protobufQuality = 0;
  let otherQuality = 0;
  for (const range of accept.split(',')) {
    const params = range.split(';');
    const type = params[0].trim().toLowerCase();
    let quality = 1;
    let proto = '';
    let encoding = '';
    for (let i = 1; i < params.length; i++) {
      const eq = params[i].indexOf('=');
      if (eq === -1) continue;
      const name = params[i].slice(0, eq).trim().toLowerCase();
      const value = params[i]
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1');
      if (name === 'q') quality = Number(value) || 0;
      else if (name === 'proto') proto = value;
      else if (name === 'encoding') encoding = value;
    }
    if (type === PROTOBUF_MEDIA_TYPE) {
      if (proto === 'io.prometheus.client.MetricFamily' && encoding === 'delimited')
        protobufQuality = Math.max(protobufQuality, quality);
    } else if (type !== '') {
      otherQuality = Math.max(otherQuality, quality);
    }
  }
  return protobufQuality > 0 && protobufQuality >= otherQuality;
}

type LabelValue = string | number;

/** A sample as `Registry.getMetricsAsJSON()` hands it out (the module's series metrics add `native`). */
interface JsonSample {
  labels: Record<string, LabelValue>;
  value: number;
  metricName?: string;
  exemplar?: { labelSet: Record<string, LabelValue>; value: number; timestamp?: number } | null;
  native?: NativeHistogramSnapshot;
}

/** A metric family as `Registry.getMetricsAsJSON()` hands it out. */
export interface JsonMetricFamily {
  name: string;
  help: string;
  type: string;
  values: JsonSample[];
}

// metrics.proto: MetricType.
const COUNTER = 0;
const GAUGE = 1;
const SUMMARY = 2;
const UNTYPED = 3;
const HISTOGRAM = 4;

// Wire types.
const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;

const tag = (field: number, wireType: number) => (field << 3) | wireType;

/**
 * Encodes metric families (as `registry.getMetricsAsJSON()` returns them, or the cluster's
 * aggregate) in the delimited protobuf exposition. Counters, gauges, histograms (classic buckets,
 * native buckets when the series has them, or both) and summaries; exemplars of counters and of
 * classic buckets. `names`: only these families.
 *
 * @example
 * const body = encodeMetricFamilies(await registry.getMetricsAsJSON());
 * res.setHeader('Content-Type', PROTOBUF_CONTENT_TYPE).end(body);
 */
export function encodeMetricFamilies(families: readonly JsonMetricFamily[], names?: readonly string[]): Buffer {
  const only = names === undefined ? undefined : new Set(names);
  const w = protobuf.Writer.create();
  for (const family of families) {
    if (only !== undefined && !only.has(family.name)) continue;
    w.fork();
    writeFamily(w, family);
    w.ldelim();
  }
  const bytes = w.finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function writeFamily(w: protobuf.Writer, family: JsonMetricFamily): void {
  w.uint32(tag(1, LENGTH_DELIMITED)).string(family.name);
  if (family.help !== '') w.uint32(tag(2, LENGTH_DELIMITED)).string(family.help);
  switch (family.type) {
    case 'counter':
      w.uint32(tag(3, VARINT)).int32(COUNTER);
      for (const s of family.values) metric(w, s.labels, undefined, () => writeValueMessage(w, 3, s.value, s.exemplar));
      break;
    case 'gauge':
      w.uint32(tag(3, VARINT)).int32(GAUGE);
      for (const s of family.values) metric(w, s.labels, undefined, () => writeValueMessage(w, 2, s.value, undefined));
      break;
    case 'histogram':
      w.uint32(tag(3, VARINT)).int32(HISTOGRAM);
      for (const series of groupSeries(family, 'le')) metric(w, series.labels, 'le', () => writeHistogram(w, series));
      break;
    case 'summary':
      w.uint32(tag(3, VARINT)).int32(SUMMARY);
      for (const series of groupSeries(family, 'quantile'))
        metric(w, series.labels, 'quantile', () => writeSummary(w, series));
      break;
    default:
      w.uint32(tag(3, VARINT)).int32(UNTYPED);
      for (const s of family.values) metric(w, s.labels, undefined, () => writeValueMessage(w, 5, s.value, undefined));
  }
}

/** One Metric (field 4 of MetricFamily): its labels, then the typed value `body` writes. */
function metric(w: protobuf.Writer, labels: Record<string, LabelValue>, skip: string | undefined, body: () => void) {
  w.uint32(tag(4, LENGTH_DELIMITED)).fork();
  writeLabels(w, 1, labels, skip);
  body();
  w.ldelim();
}

function writeLabels(w: protobuf.Writer, field: number, labels: Record<string, LabelValue>, skip?: string): void {
  for (const name in labels) {
    if (name === skip) continue;
    w.uint32(tag(field, LENGTH_DELIMITED)).fork();
    w.uint32(tag(1, LENGTH_DELIMITED)).string(name);
    w.uint32(tag(2, LENGTH_DELIMITED)).string(String(labels[name]));
    w.ldelim();
  }
}

/** Counter (field 3), Gauge (2) or Untyped (5): `double value = 1`, a counter's exemplar = 2. */
function writeValueMessage(w: protobuf.Writer, field: number, value: number, exemplar: JsonSample['exemplar']): void {
  w.uint32(tag(field, LENGTH_DELIMITED)).fork();
  w.uint32(tag(1, FIXED64)).double(value);
  if (exemplar) writeExemplar(w, 2, exemplar);
  w.ldelim();
}

function writeExemplar(w: protobuf.Writer, field: number, exemplar: NonNullable<JsonSample['exemplar']>): void {
  w.uint32(tag(field, LENGTH_DELIMITED)).fork();
  writeLabels(w, 1, exemplar.labelSet);
  w.uint32(tag(2, FIXED64)).double(exemplar.value);
  if (exemplar.timestamp !== undefined && Number.isFinite(exemplar.timestamp)) {
    // google.protobuf.Timestamp { int64 seconds = 1; int32 nanos = 2; }; ours are in seconds.
    const seconds = Math.floor(exemplar.timestamp);
    w.uint32(tag(3, LENGTH_DELIMITED)).fork();
    w.uint32(tag(1, VARINT)).int64(seconds);
    w.uint32(tag(2, VARINT)).int32(Math.round((exemplar.timestamp - seconds) * 1e9) % 1e9);
    w.ldelim();
  }
  w.ldelim();
}

/** The samples of one label set of a histogram or summary. */
interface GroupedSeries {
  labels: Record<string, LabelValue>;
  /** Buckets (`le`) or quantiles, in the order they came. */
  points: JsonSample[];
  sum: number;
  count: number;
  native?: NativeHistogramSnapshot;
}

/** Groups a histogram's or summary's samples by their labels other than `le` / `quantile`. */
function groupSeries(family: JsonMetricFamily, pointLabel: string): GroupedSeries[] {
  const byKey = new Map<string, GroupedSeries>();
  const sumName = `${family.name}_sum`;
  const countName = `${family.name}_count`;
  for (const s of family.values) {
    const names = Object.keys(s.labels)
      .filter(n => n !== pointLabel)
      .sort();
    const key = JSON.stringify(names.map(n => [n, String(s.labels[n])]));
    let series = byKey.get(key);
    if (series === undefined) {
      const labels: Record<string, LabelValue> = {};
      for (const n of names) labels[n] = s.labels[n];
      series = { labels, points: [], sum: 0, count: 0 };
      byKey.set(key, series);
    }
    if (s.metricName === sumName) series.sum = s.value;
    else if (s.metricName === countName) {
      series.count = s.value;
      if (s.native) series.native = s.native;
    } else if (s.labels[pointLabel] !== undefined) series.points.push(s);
  }
  return [...byKey.values()];
}

function upperBound(le: LabelValue): number {
  if (typeof le === 'number') return le;
  return le === '+Inf' ? Infinity : Number(le);
}

/** Histogram (field 7 of Metric): classic buckets, native buckets, or both. */
function writeHistogram(w: protobuf.Writer, series: GroupedSeries): void {
  w.uint32(tag(7, LENGTH_DELIMITED)).fork();
  w.uint32(tag(1, VARINT)).uint64(series.count);
  w.uint32(tag(2, FIXED64)).double(series.sum);
  for (const point of series.points) {
    const bound = upperBound(point.labels.le);
    // The +Inf bucket is implied by sample_count; it is written only to carry its exemplar.
    if (bound === Infinity && !point.exemplar) continue;
    w.uint32(tag(3, LENGTH_DELIMITED)).fork();
    w.uint32(tag(1, VARINT)).uint64(point.value);
    w.uint32(tag(2, FIXED64)).double(bound);
    if (point.exemplar) writeExemplar(w, 3, point.exemplar);
    w.ldelim();
  }
  const native = series.native;
  if (native !== undefined) {
    w.uint32(tag(5, VARINT)).sint32(native.schema);
    w.uint32(tag(6, FIXED64)).double(native.zeroThreshold);
    w.uint32(tag(7, VARINT)).uint64(native.zeroCount);
    const negative = writeSpans(w, 9, 10, native.negative);
    const positive = writeSpans(w, 12, 13, native.positive);
    // A histogram with no bucket and a zero threshold of 0 would read as a classic one: an empty
    // span marks it native (as client_golang does).
    if (!negative && !positive && native.zeroThreshold === 0) {
      w.uint32(tag(12, LENGTH_DELIMITED)).fork();
      w.uint32(tag(1, VARINT)).sint32(0);
      w.uint32(tag(2, VARINT)).uint32(0);
      w.ldelim();
    }
  }
  w.ldelim();
}

/** Writes one side's spans and deltas; whether it had any bucket. */
function writeSpans(w: protobuf.Writer, spanField: number, deltaField: number, side: NativeBucketsSnapshot): boolean {
  const { spans, deltas } = toSpans(side);
  for (const [offset, length] of spans) {
    w.uint32(tag(spanField, LENGTH_DELIMITED)).fork();
    w.uint32(tag(1, VARINT)).sint32(offset);
    w.uint32(tag(2, VARINT)).uint32(length);
    w.ldelim();
  }
  for (const delta of deltas) w.uint32(tag(deltaField, VARINT)).sint64(delta);
  return spans.length > 0;
}

/** Summary (field 4 of Metric). */
function writeSummary(w: protobuf.Writer, series: GroupedSeries): void {
  w.uint32(tag(4, LENGTH_DELIMITED)).fork();
  w.uint32(tag(1, VARINT)).uint64(series.count);
  w.uint32(tag(2, FIXED64)).double(series.sum);
  for (const point of series.points) {
    w.uint32(tag(3, LENGTH_DELIMITED)).fork();
    w.uint32(tag(1, FIXED64)).double(Number(point.labels.quantile));
    w.uint32(tag(2, FIXED64)).double(point.value);
    w.ldelim();
  }
  w.ldelim();
}

/**
 * An exposition rendered for one scrape, text or binary.
 *
 * @example
 * ```ts
 * const rendered: RenderedExposition = { contentType: PROTOBUF_CONTENT_TYPE, body: Buffer.alloc(0) };
 * ```
 */
export interface RenderedExposition {
  contentType: string;
  body: string | Buffer;
}

/**
 * Renders a registry in the protobuf exposition. `names`: only these families (`?name[]=`).
 *
 * @example
 * const { contentType, body } = await renderProtobuf(registry);
 */
export async function renderProtobuf(
  registry: { getMetricsAsJSON(): Promise<unknown[]> },
  names?: readonly string[],
): Promise<RenderedExposition> {
  const families = (await registry.getMetricsAsJSON()) as JsonMetricFamily[];
  return { contentType: PROTOBUF_CONTENT_TYPE, body: encodeMetricFamilies(families, names) };
}
