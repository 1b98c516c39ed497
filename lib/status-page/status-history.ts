import { getHeapStatistics } from 'node:v8';
import type { Registry } from 'prom-client';
import {
  keyOf,
  mergeStatus,
  STATUS_CLASSES,
  type StatusSectionName,
  type StatusSnapshot,
  type StatusSnapshotRow,
  type StatusView,
} from './status-merge.js';

export { quantile, type StatusRow, type StatusView } from './status-merge.js';

/**
 * Metrics as `Registry.getMetricsAsJSON()` returns them.
 *
 * @example
 * ```ts
 * const metrics: MetricsSnapshot = await registry.getMetricsAsJSON();
 * ```
 */
export type MetricsSnapshot = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;
type MetricJson = MetricsSnapshot[number];
type Labels = Record<string, string | number | undefined>;

const CLASSES = STATUS_CLASSES;
/** The span of a row's rate and quantiles. */
const WINDOW_SECONDS = 60;
/**
 * Rows kept per family: route templates are bounded, but a family's labels may not be.
 *
 * @example
 * ```ts
 * history.rowCount() <= MAX_ROWS_PER_FAMILY * families.length; // always
 * ```
 */
export const MAX_ROWS_PER_FAMILY = 1000;
const OVERFLOW_LABEL_VALUE = '__overflow__';

/**
 * One family of request metrics read into rows: the default HTTP metrics, or outbound, rpc, ws or
 * GraphQL ones.
 *
 * @example
 * ```ts
 * const http: RequestFamily = {
 *   section: 'http', requests: 'http_requests_total', duration: 'http_request_duration_seconds',
 *   bounds: [0.1, 1], keyLabels: ['method', 'route'], classLabel: 'status_code',
 * };
 * ```
 */
export interface RequestFamily {
  section: StatusSectionName;
  /** Counter of requests. */
  requests: string;
  /** Histogram of durations, in seconds, with `bounds` as buckets. */
  duration?: string;
  bounds: readonly number[];
  /** Gauge of requests in progress, labelled by (some of) `keyLabels`. */
  inProgress?: string;
  /** Counter with an `exception` label. */
  exceptions?: string;
  /** The labels a row stands for, e.g. method and route. */
  keyLabels: readonly string[];
  /** `status_code`: class by its first digit (`error`: 5xx); `outcome`: `success` or not. */
  classLabel: 'status_code' | 'outcome';
}

/**
 * What the status page reads.
 *
 * @example
 * ```ts
 * new StatusHistory({ families: [http], eventLoopLag: 'nodejs_eventloop_lag_p99_seconds', overflowMetric: 'prometheus_series_overflow_total', maxSeriesPerMetric: 10000 }, 5, 15);
 * ```
 */
export interface StatusSources {
  families: readonly RequestFamily[];
  /** Gauge of the event loop's delay, in seconds (prom-client's default metrics). */
  eventLoopLag: string;
  overflowMetric: string;
  /** `Infinity` when off. */
  maxSeriesPerMetric: number;
}

/** A row's values at one moment: cumulative counts and bucket counts, since the series began. */
interface GroupSample {
  labels: Record<string, string>;
  counts: Float64Array;
  /** Cumulative bucket counts, one per bound, then the total count (`+Inf`); empty without a histogram. */
  buckets: Float64Array;
  inFlight: number;
  exceptions?: Map<string, number>;
}

/** The last minute of one row's cumulative values, one slot per tick. */
interface GroupWindow {
  counts: Float64Array;
  buckets: Float64Array;
}

/** The app-wide history's gauges, one value per tick (`NaN`: nothing to show). */
const GAUGES = ['seconds', 'inFlight', 'cpuRatio', 'heapUsedBytes', 'eventLoopLagSeconds'] as const;
type Gauge = (typeof GAUGES)[number];

/**
 * The status page's memory: the last `historyMinutes` of the app-wide HTTP counts and bucket
 * counts per tick (with the process's gauges), and the last minute of every row's cumulative values
 * (for its rate and quantiles). Fed by {@link StatusHistory.sample} on a timer from the registry's
 * own series: nothing per request. Every buffer is a typed array of fixed size, so the memory is
 * bounded: see {@link StatusHistory.bytes}. It keeps counts, not rates or quantiles, so that the
 * numbers of a cluster's workers add up ({@link StatusHistory.snapshot}, `mergeStatus`).
 *
 * @example
 * ```ts
 * const history = new StatusHistory(sources, 5, 15);
 * history.sample(await registry.getMetricsAsJSON(), Date.now());
 * const view = history.view(await registry.getMetricsAsJSON(), Date.now());
 * ```
 */
export class StatusHistory {
  /** Slots of a row's window: a minute of ticks, and the tick a minute ago. */
  private readonly windowSlots: number;
  private readonly windowTimes: Float64Array;
  private readonly windows: Map<string, GroupWindow>[];
  /** Points of the app-wide history. */
  private readonly points: number;
  private readonly times: Float64Array;
  /** The HTTP family (whose requests the history's charts show) and its bucket width. */
  private readonly http?: RequestFamily;
  private readonly httpWidth: number;
  /** Per point: HTTP requests per class since the previous tick (`NaN`: none to compare with). */
  private readonly counts: Float64Array;
  /** Per point: HTTP observations per bucket (cumulative) since the previous tick. */
  private readonly buckets: Float64Array;
  private readonly gauges: Record<Gauge, Float64Array>;
  private ticks = 0;
  private previous?: { time: number; counts: Float64Array; buckets: Float64Array; cpu: NodeJS.CpuUsage };

  constructor(
    private readonly sources: StatusSources,
    private readonly refreshSeconds: number,
    private readonly historyMinutes: number,
  ) {
    this.windowSlots = Math.ceil(WINDOW_SECONDS / refreshSeconds) + 1;
    this.windowTimes = new Float64Array(this.windowSlots);
    this.windows = sources.families.map(() => new Map<string, GroupWindow>());
    this.points = Math.ceil((historyMinutes * 60) / refreshSeconds);
    this.times = new Float64Array(this.points);
    this.http = sources.families.find(family => family.section === 'http');
    this.httpWidth = this.http?.duration ? this.http.bounds.length + 1 : 0;
    this.counts = new Float64Array(this.points * CLASSES).fill(NaN);
    this.buckets = new Float64Array(this.points * this.httpWidth).fill(NaN);
    this.gauges = {} as Record<Gauge, Float64Array>;
    for (const name of GAUGES) this.gauges[name] = new Float64Array(this.points).fill(NaN);
  }

  /** Bytes held by the history's buffers (the typed arrays; the rows' keys and maps come on top). */
  bytes(): number {
    let bytes = this.windowTimes.byteLength + this.times.byteLength + this.counts.byteLength + this.buckets.byteLength;
    for (const name of GAUGES) bytes += this.gauges[name].byteLength;
    for (const windows of this.windows) {
      for (const window of windows.values()) bytes += window.counts.byteLength + window.buckets.byteLength;
    }
    return bytes;
  }

  /** Rows held per family (routes, hosts, ...). */
  rowCount(): number {
    let rows = 0;
    for (const windows of this.windows) rows += windows.size;
    return rows;
  }

  /** Takes one tick: every row's cumulative values into its window, and one point of app-wide history. */
  sample(metrics: MetricsSnapshot, now: number): void {
    const byName = indexByName(metrics);
    const slot = this.ticks % this.windowSlots;
    this.windowTimes[slot] = now;
    let http: Map<string, GroupSample> | undefined;
    this.sources.families.forEach((family, index) => {
      const groups = readFamily(byName, family);
      if (family === this.http) http = groups;
      const windows = this.windows[index];
      const width = family.duration ? family.bounds.length + 1 : 0;
      for (const [key, group] of groups) {
        let window = windows.get(key);
        if (!window) {
          if (windows.size >= MAX_ROWS_PER_FAMILY) continue;
          // Zeros before: the series did not exist at the earlier ticks.
          window = {
            counts: new Float64Array(this.windowSlots * CLASSES),
            buckets: new Float64Array(this.windowSlots * width),
          };
          windows.set(key, window);
        }
        window.counts.set(group.counts, slot * CLASSES);
        if (width > 0) window.buckets.set(group.buckets, slot * width);
      }
    });
    this.ticks++;
    this.record(now, http, byName);
  }

  /** One point of the app-wide history: counts since the previous tick, and the gauges now. */
  private record(now: number, http: Map<string, GroupSample> | undefined, byName: Map<string, MetricJson>): void {
    const width = this.httpWidth;
    const counts = new Float64Array(CLASSES);
    const buckets = new Float64Array(width);
    let inFlight = 0;
    for (const group of http?.values() ?? []) {
      addInto(counts, group.counts);
      if (width > 0) addInto(buckets, group.buckets);
      inFlight += group.inFlight;
    }
    const cpu = process.cpuUsage();
    const point = (this.ticks - 1) % this.points;
    this.times[point] = now;
    this.counts.fill(NaN, point * CLASSES, (point + 1) * CLASSES);
    this.buckets.fill(NaN, point * width, (point + 1) * width);
    for (const name of GAUGES) this.gauges[name][point] = NaN;
    const previous = this.previous;
    this.previous = { time: now, counts, buckets, cpu };
    this.gauges.heapUsedBytes[point] = getHeapStatistics().used_heap_size;
    this.gauges.eventLoopLagSeconds[point] = gaugeValue(byName.get(this.sources.eventLoopLag));
    this.gauges.inFlight[point] = http ? inFlight : NaN;
    if (!previous || now <= previous.time) return;
    const seconds = (now - previous.time) / 1000;
    this.gauges.seconds[point] = seconds;
    const busy = cpu.user - previous.cpu.user + cpu.system - previous.cpu.system;
    this.gauges.cpuRatio[point] = busy / 1e6 / seconds;
    if (!http) return;
    for (let c = 0; c < CLASSES; c++) this.counts[point * CLASSES + c] = delta(counts[c], previous.counts[c]);
    if (width > 0) this.buckets.set(deltasOf(buckets, previous.buckets), point * width);
  }

  /** The page's data: `metrics` read now, against the oldest tick of the last minute. */
  view(metrics: MetricsSnapshot, now: number): StatusView {
    return mergeStatus([this.snapshot(metrics, now)], 1);
  }

  /**
   * This process's numbers for the page, as counts (JSON, for the cluster's IPC): `metrics` read
   * now, against the oldest tick of the last minute, and the history's counts per tick.
   *
   * @example
   * ```ts
   * const view = mergeStatus([history.snapshot(await registry.getMetricsAsJSON(), Date.now())], 1);
   * ```
   */
  snapshot(metrics: MetricsSnapshot, now: number): StatusSnapshot {
    const byName = indexByName(metrics);
    const held = Math.min(this.ticks, this.windowSlots);
    const oldestSlot = held === 0 ? -1 : (this.ticks - held) % this.windowSlots;
    const since = oldestSlot === -1 ? now : this.windowTimes[oldestSlot];
    const seconds = Math.max((now - since) / 1000, 0);
    const sections = this.sources.families.flatMap((family, index): StatusSnapshot['sections'] => {
      if (!byName.has(family.requests)) return [];
      const groups = readFamily(byName, family);
      const width = family.duration ? family.bounds.length + 1 : 0;
      const windows = this.windows[index];
      const rows: StatusSnapshotRow[] = [];
      for (const [key, group] of groups) {
        const window = oldestSlot === -1 ? undefined : windows.get(key);
        const windowCounts: number[] = [];
        for (let c = 0; c < CLASSES; c++) {
          windowCounts.push(delta(group.counts[c], window ? window.counts[oldestSlot * CLASSES + c] : 0));
        }
        const base = window
          ? window.buckets.subarray(oldestSlot * width, (oldestSlot + 1) * width)
          : new Float64Array(width);
        let requests = 0;
        for (let c = 0; c < CLASSES; c++) requests += group.counts[c];
        rows.push({
          labels: group.labels,
          requests,
          window: windowCounts,
          buckets: width > 0 ? Array.from(deltasOf(group.buckets, base)) : [],
          inFlight: group.inFlight,
          exceptions: group.exceptions ? [...group.exceptions] : [],
        });
      }
      return [
        {
          name: family.section,
          keyLabels: family.keyLabels,
          bounds: width > 0 ? family.bounds : [],
          inProgress: family.inProgress !== undefined,
          rows,
        },
      ];
    });
    const last = this.ticks === 0 ? -1 : (this.ticks - 1) % this.points;
    return {
      version: 1,
      time: now,
      refreshSeconds: this.refreshSeconds,
      historyMinutes: this.historyMinutes,
      windowSeconds: seconds,
      sections,
      process: {
        cpuRatio: last === -1 ? null : finite(this.gauges.cpuRatio[last]),
        heapUsedBytes: getHeapStatistics().used_heap_size,
        eventLoopLagSeconds: finite(gaugeValue(byName.get(this.sources.eventLoopLag))),
      },
      history: this.historySnapshot(),
      cardinality: cardinalityOf(metrics, byName, this.sources),
    };
  }

  private historySnapshot(): StatusSnapshot['history'] {
    const count = Math.min(this.ticks, this.points);
    const first = this.ticks - count;
    const order = Array.from({ length: count }, (_, i) => (first + i) % this.points);
    const of = (name: Gauge) => order.map(i => finite(this.gauges[name][i]));
    const width = this.httpWidth;
    const rowOf = (values: Float64Array, size: number, i: number) =>
      size === 0 || Number.isNaN(values[i * size]) ? null : Array.from(values.subarray(i * size, (i + 1) * size));
    return {
      bounds: width > 0 && this.http ? this.http.bounds : [],
      time: order.map(i => this.times[i]),
      seconds: of('seconds'),
      counts: order.map(i => rowOf(this.counts, CLASSES, i)),
      buckets: order.map(i => rowOf(this.buckets, width, i)),
      inFlight: of('inFlight'),
      cpuRatio: of('cpuRatio'),
      heapUsedBytes: of('heapUsedBytes'),
      eventLoopLagSeconds: of('eventLoopLagSeconds'),
    };
  }
}

function indexByName(metrics: MetricsSnapshot): Map<string, MetricJson> {
  const byName = new Map<string, MetricJson>();
  for (const metric of metrics) byName.set(metric.name, metric);
  return byName;
}

/** The class slot (0 for 1xx to 4 for 5xx) of a series, or -1. */
function classOf(labels: Labels, family: RequestFamily): number {
  const value = labels[family.classLabel];
  if (family.classLabel === 'outcome') return value === 'success' ? 1 : 4;
  if (value === 'error') return 4;
  const digit = String(value ?? '').charCodeAt(0) - 48;
  return digit >= 1 && digit <= 5 ? digit - 1 : -1;
}

/** Every row of a family, summed over labels other than its key labels. */
function readFamily(byName: Map<string, MetricJson>, family: RequestFamily): Map<string, GroupSample> {
  const groups = new Map<string, GroupSample>();
  const requests = byName.get(family.requests);
  if (!requests) return groups;
  const width = family.duration ? family.bounds.length + 1 : 0;
  const group = (labels: Labels): GroupSample => {
    const key = keyOf(labels, family.keyLabels);
    let found = groups.get(key);
    if (!found) {
      const keyLabels: Record<string, string> = {};
      for (const name of family.keyLabels) keyLabels[name] = String(labels[name] ?? '');
      found = { labels: keyLabels, counts: new Float64Array(CLASSES), buckets: new Float64Array(width), inFlight: 0 };
      groups.set(key, found);
    }
    return found;
  };
  for (const { labels, value } of requests.values) {
    const c = classOf(labels, family);
    if (c !== -1) group(labels).counts[c] += value;
  }
  const duration = family.duration ? byName.get(family.duration) : undefined;
  if (duration && String(duration.type) === 'histogram') {
    const index = new Map(family.bounds.map((bound, i) => [bound, i]));
    for (const { labels, value, metricName } of duration.values as {
      labels: Labels;
      value: number;
      metricName?: string;
    }[]) {
      if (!metricName?.endsWith('_bucket')) continue;
      const le = labels.le;
      const i = le === '+Inf' ? family.bounds.length : index.get(Number(le));
      if (i === undefined) continue;
      // Only rows that have requests: the histogram is observed with the counter.
      const row = groups.get(keyOf(labels, family.keyLabels));
      if (row) row.buckets[i] += value;
    }
  }
  const inProgress = family.inProgress ? byName.get(family.inProgress) : undefined;
  for (const { labels, value } of inProgress?.values ?? []) {
    // A route in progress for the first time has no count yet: it still gets its row.
    if (value !== 0 || groups.has(keyOf(labels, family.keyLabels))) group(labels).inFlight += value;
  }
  const exceptions = family.exceptions ? byName.get(family.exceptions) : undefined;
  for (const { labels, value } of exceptions?.values ?? []) {
    const row = groups.get(keyOf(labels, family.keyLabels));
    if (!row || value === 0) continue;
    row.exceptions ??= new Map();
    const name = String(labels.exception ?? '');
    row.exceptions.set(name, (row.exceptions.get(name) ?? 0) + value);
  }
  return groups;
}

function cardinalityOf(
  metrics: MetricsSnapshot,
  byName: Map<string, MetricJson>,
  sources: StatusSources,
): StatusView['cardinality'] {
  const diverted = new Map<string, number>();
  for (const { labels, value } of byName.get(sources.overflowMetric)?.values ?? []) {
    diverted.set(String(labels.metric), value);
  }
  const list = metrics.map(metric => {
    const values = metric.values as { labels: Labels; metricName?: string }[];
    const type = String(metric.type);
    const perSeries = type === 'histogram' || type === 'summary';
    let series = 0;
    let overflowed = false;
    for (const { labels, metricName } of values) {
      if (perSeries && !metricName?.endsWith('_count')) continue;
      series++;
      if (!overflowed) for (const name in labels) if (labels[name] === OVERFLOW_LABEL_VALUE) overflowed = true;
    }
    return {
      name: metric.name,
      type: String(metric.type),
      series,
      overflowed,
      diverted: diverted.get(metric.name) ?? 0,
    };
  });
  list.sort((a, b) => b.series - a.series || a.name.localeCompare(b.name));
  return {
    maxSeriesPerMetric: Number.isFinite(sources.maxSeriesPerMetric) ? sources.maxSeriesPerMetric : null,
    metrics: list,
  };
}

function gaugeValue(metric: MetricJson | undefined): number {
  const first = metric?.values[0];
  return first === undefined ? NaN : first.value;
}

/** A counter's increase; after a reset (the counter went down), what it counted since. */
function delta(now: number, before: number): number {
  return now >= before ? now - before : now;
}

function deltasOf(now: Float64Array, before: ArrayLike<number>): Float64Array {
  const out = new Float64Array(now.length);
  // A reset anywhere resets the whole histogram: read it from zero then.
  let reset = false;
  for (let i = 0; i < now.length; i++) if (now[i] < before[i]) reset = true;
  for (let i = 0; i < now.length; i++) out[i] = reset ? now[i] : now[i] - before[i];
  return out;
}

function addInto(target: Float64Array, source: ArrayLike<number>): void {
  for (let i = 0; i < target.length && i < source.length; i++) target[i] += source[i];
}

function finite(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}
