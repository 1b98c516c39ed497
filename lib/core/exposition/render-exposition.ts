import { setImmediate as nextTurn } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import type { Registry, RegistryContentType } from 'prom-client';
import { registryDefaultLabels } from '../../compat/prom-client.js';
import {
  hasUnreadableSeriesMap,
  type PromClientSeries,
  promClientSeriesReader,
  type PromClientSeriesReader,
} from '../../compat/prom-client-series-map.js';
import { CounterFamily } from '../counter-family.js';
import { GaugeFamily } from '../gauge-family.js';
import { HistogramFamily } from '../histogram-family.js';
import { SeriesFamily } from '../series-family.js';
import { escapeHelp, escapeLabelValue, labelPairs, sampleValue } from './escape.js';

/**
 * The two exposition formats: the Prometheus text format 0.0.4 and OpenMetrics 1.0.
 *
 * @example
 * const format: ExpositionFormat = accept?.includes('application/openmetrics-text') ? 'openmetrics' : 'text';
 */
export type ExpositionFormat = 'text' | 'openmetrics';

/**
 * Receives the exposition a slice at a time, in order.
 *
 * @example
 * ```ts
 * const onSlice: SliceSink = slice => body.write(slice);
 * ```
 */
export type SliceSink = (slice: string) => void;

/**
 * Where a scrape's body goes as it is made: text slices, or the protobuf exposition's bytes.
 *
 * @example
 * ```ts
 * const onChunk: ChunkSink = chunk => body.write(chunk);
 * ```
 */
export type ChunkSink = (chunk: string | Buffer) => void;

/**
 * Work done between two yields to the event loop. The issue's bound is 5 ms of stall; a slice
 * overruns its budget by the series it is in, a check interval and a young-generation GC that
 * its garbage may trigger (2.5 to 3 ms at 100k series on this 2-core machine), so it aims well
 * below it. Measured with `npm run bench:scrape` at 100k series, alternating: 1 ms (with 0.5 ms
 * of socket writes per turn) against 1.5 ms (with 1 ms) lowered the median stall by 0.5 to 1 ms
 * in every format, for no measurable total time.
 */
export const SLICE_BUDGET_MS = 1;

const logger = new Logger('PrometheusModule');

/** Text handed on to the sink without waiting for the end of the slice. */
const HAND_ON_CHARS = 16 * 1024;

/** Series rendered between two looks at the clock (a look costs ~50 ns, a series ~1 µs). */
const CHECK_EVERY = 16;

/** A metric as prom-client's registry reads it (its `get()` and, on histograms, `getForPromString()`). */
interface CollectableMetric {
  name: string;
  help: string;
  type: string;
  get(): Promise<CollectedValues> | CollectedValues;
  getForPromString?(): Promise<CollectedValues> | CollectedValues;
}

interface CollectedSample {
  value: number;
  labels?: Record<string, unknown>;
  sharedLabels?: Record<string, unknown>;
  metricName?: string;
  exemplar?: { labelSet: Record<string, unknown>; value: number; timestamp: unknown } | null;
}

/**
 * What a metric's `get()` resolves to (and what `getMetricsAsJSON()` lists).
 *
 * @example
 * const gauge: CollectedValues = { name: 'up', help: 'Up', type: 'gauge', values: [{ value: 1, labels: {} }] };
 */
export interface CollectedValues {
  name: string;
  help: string;
  type: string;
  values?: CollectedSample[];
}

/**
 * Writes the exposition of a registry in slices, yielding to the event loop (`setImmediate`)
 * after about {@link SLICE_BUDGET_MS} of work, between families and inside a large one, so that
 * requests arriving during a scrape of 100k series wait a few milliseconds, not the whole scrape.
 * The bytes are those prom-client's `registry.metrics()` gives for the same values (a registry of
 * `format`'s content type): the module's series are formatted from their fields, with the label
 * text they computed when they were made; other metrics (plain prom-client ones, a collect
 * callback's) are read with one `get()` each, all started at once as prom-client starts them,
 * and formatted in slices. Unlike prom-client's OpenMetrics rendering, no counter is renamed.
 *
 * @param names only these families (`?name[]=`), by their registered name (the collect callbacks
 *   of the others still run).
 *
 * @example
 * ```ts
 * const slices: string[] = [];
 * await renderExposition(register, 'openmetrics', undefined, slice => slices.push(slice));
 * const body = slices.join('');
 * ```
 */
export async function renderExposition(
  registry: Registry<RegistryContentType>,
  format: ExpositionFormat,
  names: readonly string[] | undefined,
  onSlice: SliceSink,
): Promise<void> {
  const only = names === undefined ? undefined : new Set(names);
  const all = registry.getMetricsAsArray() as unknown as CollectableMetric[];
  // Started in one synchronous loop, as prom-client does: the collect-errors counter's own
  // collection waits for the other collections of the scrape that are running at that moment.
  // Every collect callback runs, even for a `?name[]=` scrape (as client_golang gathers all, then
  // filters): a failing one is counted in the scrape that ran it. The module's series have none.
  // Plain prom-client counters and gauges without a collect callback are read in slices from
  // their series map (their get() is one 20-45 ms piece at 30k series); the others with get().
  const readers = all.map(m => (m instanceof SeriesFamily ? undefined : seriesReader(m)));
  const started = all.map((m, i) => (m instanceof SeriesFamily || readers[i] !== undefined ? undefined : collect(m)));
  // A rejection is this render's failure (as in prom-client, one failing metric fails the
  // scrape when no collect guard is installed); the ones after the first are not unhandled.
  for (const c of started) c?.catch(() => undefined);
  const kept = (_: unknown, i: number) => only === undefined || only.has(all[i].name);
  const metrics = all.filter(kept);
  const collections = started.filter(kept);
  const metricReaders = readers.filter(kept);
  const out = new SliceWriter(onSlice);
  // Reading prom-client's metrics took a turn of its own (a counter's get() lists its series in
  // one piece): the first slice of formatting starts with a fresh budget.
  if (collections.some(c => c !== undefined)) await out.yield();
  const openMetrics = format === 'openmetrics';
  const defaults = registryDefaultLabels(registry);
  for (let i = 0; i < metrics.length; i++) {
    if (i > 0) out.write(openMetrics ? '\n' : '\n\n');
    const metric = metrics[i];
    const pending = collections[i];
    const reader = metricReaders[i];
    if (reader !== undefined) await writeReadFamily(metric, reader, openMetrics, defaults, out);
    else if (pending === undefined)
      await writeSeriesFamily(metric as unknown as SeriesFamily<never>, openMetrics, defaults, out);
    else await writeCollectedFamily(await pending, openMetrics, defaults, out);
  }
  out.write(openMetrics ? '\n# EOF\n' : '\n');
  out.flush();
}

/**
 * Renders metrics already collected (the aggregate of cluster workers), in slices, as prom-client
 * renders a registry holding them.
 *
 * @example
 * ```ts
 * const slices: string[] = [];
 * await renderCollected(await aggregateInSlices(workers), 'text', undefined, slice => slices.push(slice));
 * ```
 */
export async function renderCollected(
  metrics: readonly CollectedValues[],
  format: ExpositionFormat,
  names: readonly string[] | undefined,
  onSlice: SliceSink,
): Promise<void> {
  const only = names === undefined ? undefined : new Set(names);
  const out = new SliceWriter(onSlice);
  const openMetrics = format === 'openmetrics';
  let first = true;
  for (const metric of metrics) {
    if (only !== undefined && !only.has(metric.name)) continue;
    if (!first) out.write(openMetrics ? '\n' : '\n\n');
    first = false;
    await writeCollectedFamily(metric, openMetrics, undefined, out);
  }
  out.write(openMetrics ? '\n# EOF\n' : '\n');
  out.flush();
}

/** Metrics already warned about: their series are read with `get()`. */
const warnedUnreadable = new WeakSet();

/** The slice-by-slice reader of a plain prom-client counter or gauge, if it can have one. */
function seriesReader(metric: CollectableMetric): PromClientSeriesReader | undefined {
  const reader = promClientSeriesReader(metric);
  if (reader === undefined && !warnedUnreadable.has(metric) && hasUnreadableSeriesMap(metric)) {
    warnedUnreadable.add(metric);
    logger.warn(
      `${metric.name}: this prom-client version keeps a Counter's or Gauge's series in another shape; ` +
        'reading them with get(), in one piece: a scrape may hold the event loop longer (lib/compat/prom-client-series-map.ts)',
    );
  }
  return reader;
}

/** Reads a metric as prom-client's `getMetricsAsString` reads it. */
async function collect(metric: CollectableMetric): Promise<CollectedValues> {
  return typeof metric.getForPromString === 'function' ? metric.getForPromString() : metric.get();
}

/** Collects written text and hands it on in slices, yielding to the event loop between them. */
class SliceWriter {
  private text = '';
  private sliceStarted = performance.now();
  private sinceCheck = 0;

  constructor(private readonly onSlice: SliceSink) {}

  write(text: string): void {
    this.text += text;
    // Handing text on costs more than writing it (the sink encodes it to UTF-8, maybe gzips it):
    // in small pieces, that cost is inside the budget the clock sees.
    if (this.text.length >= HAND_ON_CHARS) this.flush();
  }

  /** Whether this slice has used its budget (looks at the clock every few calls). */
  due(): boolean {
    if (++this.sinceCheck < CHECK_EVERY) return false;
    this.sinceCheck = 0;
    return performance.now() - this.sliceStarted >= SLICE_BUDGET_MS;
  }

  /** Hands on the slice and gives the event loop a turn. */
  async yield(): Promise<void> {
    this.flush();
    await nextTurn();
    this.sliceStarted = performance.now();
  }

  flush(): void {
    if (this.text === '') return;
    const slice = this.text;
    this.text = '';
    this.onSlice(slice);
  }
}

/** prom-client writes OpenMetrics counter families without `_total` (and their samples with it). */
function familyName(name: string, type: string, openMetrics: boolean): string {
  return openMetrics && type === 'counter' ? name.replace(/_total$/, '') : name;
}

function writeHeader(name: string, help: string, type: string, out: SliceWriter): void {
  out.write(`# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}`);
}

/** The registry's default labels a series lacks, as label text (`''` when none). */
function missingDefaults(defaults: Record<string, unknown> | undefined, labelNames: readonly string[]): string {
  if (defaults === undefined) return '';
  const missing: Record<string, unknown> = {};
  for (const name of Object.keys(defaults)) if (!labelNames.includes(name)) missing[name] = defaults[name];
  return labelPairs(missing);
}

/** `{a,b}` of the non-empty parts, or nothing, as prom-client joins label parts. */
function braces(first: string, second: string): string {
  if (first === '') return second === '' ? '' : `{${second}}`;
  return second === '' ? `{${first}}` : `{${first},${second}}`;
}

async function writeSeriesFamily(
  metric: SeriesFamily<never>,
  openMetrics: boolean,
  defaults: Record<string, unknown> | undefined,
  out: SliceWriter,
): Promise<void> {
  const name = familyName(metric.name, metric.type, openMetrics);
  writeHeader(name, metric.help, metric.type, out);
  const extra = missingDefaults(defaults, metric.labelNames);
  if (metric instanceof HistogramFamily) {
    const bucketName = `\n${metric.name}_bucket{le="`;
    const les = metric.buckets.map(b => `${b}`);
    les.push('+Inf');
    for (const s of metric.allSeries()) {
      // le first, then the series' labels, then default labels: the order prom-client gives the
      // samples `collect` produces.
      const rest = braces(s.labelText, extra);
      const tail = rest === '' ? '"} ' : `",${rest.slice(1, -1)}} `;
      const exemplars = openMetrics ? s.exemplars : undefined;
      let cumulative = 0;
      for (let b = 0; b < les.length; b++) {
        cumulative = b < les.length - 1 ? cumulative + s.counts[b] : s.count;
        out.write(bucketName + les[b] + tail + sampleValue(cumulative));
        const exemplar = exemplars?.[b];
        if (exemplar) out.write(exemplarText(exemplar));
      }
      out.write(
        `\n${metric.name}_sum${rest} ${sampleValue(s.sum)}\n${metric.name}_count${rest} ${sampleValue(s.count)}`,
      );
      if (out.due()) await out.yield();
    }
    return;
  }
  if (metric instanceof CounterFamily) {
    const sampleName = `\n${openMetrics ? `${name}_total` : name}`;
    for (const s of metric.allSeries()) {
      out.write(`${sampleName}${braces(s.labelText, extra)} ${sampleValue(s.value)}`);
      if (openMetrics && s.exemplar) out.write(exemplarText(s.exemplar));
      if (out.due()) await out.yield();
    }
    return;
  }
  if (metric instanceof GaugeFamily) {
    for (const s of metric.allSeries()) {
      out.write(`\n${name}${braces(s.labelText, extra)} ${sampleValue(s.value)}`);
      if (out.due()) await out.yield();
    }
    return;
  }
  // A series metric of a kind this renderer does not know: format what its get() gives.
  await writeSamples(await metric.get(), name, openMetrics, defaults, out);
}

async function writeCollectedFamily(
  metric: CollectedValues,
  openMetrics: boolean,
  defaults: Record<string, unknown> | undefined,
  out: SliceWriter,
): Promise<void> {
  const name = familyName(escapeHelp(metric.name), metric.type, openMetrics);
  writeHeader(name, metric.help, metric.type, out);
  await writeSamples(metric, name, openMetrics, defaults, out);
}

/** A plain prom-client counter or gauge, its series read one at a time (see `promClientSeriesReader`). */
async function writeReadFamily(
  metric: CollectableMetric,
  reader: PromClientSeriesReader,
  openMetrics: boolean,
  defaults: Record<string, unknown> | undefined,
  out: SliceWriter,
): Promise<void> {
  const name = familyName(escapeHelp(metric.name), metric.type, openMetrics);
  writeHeader(name, metric.help, metric.type, out);
  const sampleName = openMetrics && metric.type === 'counter' ? `${name}_total` : name;
  for (const series of reader.series()) {
    writeSample(series, sampleName, openMetrics, defaults, out);
    if (out.due()) await out.yield();
  }
}

/** Samples as prom-client's `Registry.getMetricsAsString` formats them, in slices. */
async function writeSamples(
  metric: CollectedValues,
  name: string,
  openMetrics: boolean,
  defaults: Record<string, unknown> | undefined,
  out: SliceWriter,
): Promise<void> {
  const values = metric.values ?? [];
  const counter = openMetrics && metric.type === 'counter';
  for (let i = 0; i < values.length; i++) {
    const sample = values[i];
    let sampleName = sample.metricName ?? name;
    if (counter) sampleName += '_total';
    writeSample(sample, sampleName, openMetrics, defaults, out);
    if (out.due()) await out.yield();
  }
}

/** One sample, as prom-client's `Registry.getMetricsAsString` formats it. */
function writeSample(
  sample: CollectedSample | PromClientSeries,
  sampleName: string,
  openMetrics: boolean,
  defaults: Record<string, unknown> | undefined,
  out: SliceWriter,
): void {
  let labels = sample.labels ?? {};
  const shared = (sample as CollectedSample).sharedLabels;
  if (defaults !== undefined) labels = { ...labels, ...defaults, ...labels };
  let text = '';
  for (const label in labels) {
    if (shared !== undefined && Object.prototype.hasOwnProperty.call(shared, label)) continue;
    text += `${text === '' ? '' : ','}${label}="${escapeLabelValue(labels[label])}"`;
  }
  if (shared !== undefined) {
    const sharedText = labelPairs(shared);
    if (sharedText !== '') text += text === '' ? sharedText : `,${sharedText}`;
  }
  out.write(`\n${sampleName}${text === '' ? '' : `{${text}}`} ${sampleValue(sample.value)}`);
  if (openMetrics && sample.exemplar) out.write(exemplarText(sample.exemplar));
}

function exemplarText(exemplar: { labelSet: Record<string, unknown>; value: number; timestamp: unknown }): string {
  return ` # {${labelPairs(exemplar.labelSet)}} ${sampleValue(exemplar.value)} ${exemplar.timestamp as string}`;
}
