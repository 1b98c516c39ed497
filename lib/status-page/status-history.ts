import { getHeapStatistics } from 'node:v8';
import type { Registry } from 'prom-client';

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

/** Requests are counted in five classes: 1xx to 5xx (`outcome` families: success in 2xx, error in 5xx). */
const CLASSES = 5;
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
  section: 'http' | 'outbound' | 'rpc' | 'ws' | 'graphql';
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

/**
 * One row of the page: a route (or an outbound host, a pattern, ...).
 *
 * @example
 * ```ts
 * const slowest = view.sections[0].rows.sort((a: StatusRow, b: StatusRow) => (b.p99 ?? 0) - (a.p99 ?? 0))[0];
 * ```
 */
export interface StatusRow {
  labels: Record<string, string>;
  /** Requests counted since the series began. */
  requests: number;
  /** Requests per second over the window. */
  rate: number;
  /** Share of the window's requests answered 4xx (`null` without requests). */
  ratio4xx: number | null;
  /** Share of the window's requests answered 5xx, or that failed (`null` without requests). */
  ratio5xx: number | null;
  /** Seconds, estimated from the histogram's bucket deltas over the window (`null` without requests). */
  p50: number | null;
  p95: number | null;
  p99: number | null;
  inFlight: number | null;
  /** Exception classes by count since start, most first (at most 3). */
  exceptions: { name: string; count: number }[];
}

/**
 * The page's data, served at `{path}.json` (its shape is in the README, "Status page").
 *
 * @example
 * ```ts
 * const view = (await (await fetch('http://localhost:3000/metrics/status.json')).json()) as StatusView;
 * ```
 */
export interface StatusView {
  version: 1;
  /** When the view was taken (ms since the epoch). */
  time: number;
  refreshSeconds: number;
  historyMinutes: number;
  /** Seconds the rates and quantiles of rows span (less right after start). */
  windowSeconds: number;
  sections: { name: RequestFamily['section']; keyLabels: readonly string[]; total: StatusRow; rows: StatusRow[] }[];
  process: { cpuRatio: number | null; heapUsedBytes: number; eventLoopLagSeconds: number | null };
  history: {
    time: number[];
    rate: {
      '1xx': (number | null)[];
      '2xx': (number | null)[];
      '3xx': (number | null)[];
      '4xx': (number | null)[];
      '5xx': (number | null)[];
    };
    p50: (number | null)[];
    p95: (number | null)[];
    p99: (number | null)[];
    inFlight: (number | null)[];
    cpuRatio: (number | null)[];
    heapUsedBytes: (number | null)[];
    eventLoopLagSeconds: (number | null)[];
  };
  cardinality: {
    maxSeriesPerMetric: number | null;
    metrics: { name: string; type: string; series: number; overflowed: boolean; diverted: number }[];
  };
}

const HISTORY_SERIES = [
  'rate1xx',
  'rate2xx',
  'rate3xx',
  'rate4xx',
  'rate5xx',
  'p50',
  'p95',
  'p99',
  'inFlight',
  'cpuRatio',
  'heapUsedBytes',
  'eventLoopLagSeconds',
] as const;
type HistorySeries = (typeof HISTORY_SERIES)[number];

/**
 * The status page's memory: the last `historyMinutes` of the app-wide series (one point per tick),
 * and the last minute of every row's cumulative values (for its rate and quantiles). Fed by
 * {@link StatusHistory.sample} on a timer from the registry's own series: nothing per request.
 * Every buffer is a typed array of fixed size, so the memory is bounded: see {@link StatusHistory.bytes}.
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
  private readonly series: Record<HistorySeries, Float64Array>;
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
    this.series = {} as Record<HistorySeries, Float64Array>;
    for (const name of HISTORY_SERIES) this.series[name] = new Float64Array(this.points).fill(NaN);
  }

  /** Bytes held by the history's buffers (the typed arrays; the rows' keys and maps come on top). */
  bytes(): number {
    let bytes = this.windowTimes.byteLength + this.times.byteLength;
    for (const name of HISTORY_SERIES) bytes += this.series[name].byteLength;
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
    let httpFamily: RequestFamily | undefined;
    this.sources.families.forEach((family, index) => {
      const groups = readFamily(byName, family);
      if (family.section === 'http') {
        http = groups;
        httpFamily = family;
      }
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
    this.record(now, http, httpFamily, byName);
  }

  /** One point of the app-wide history: rates and quantiles since the previous tick. */
  private record(
    now: number,
    http: Map<string, GroupSample> | undefined,
    family: RequestFamily | undefined,
    byName: Map<string, MetricJson>,
  ): void {
    const width = family?.duration ? family.bounds.length + 1 : 0;
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
    for (const name of HISTORY_SERIES) this.series[name][point] = NaN;
    const previous = this.previous;
    this.previous = { time: now, counts, buckets, cpu };
    this.series.heapUsedBytes[point] = getHeapStatistics().used_heap_size;
    this.series.eventLoopLagSeconds[point] = gaugeValue(byName.get(this.sources.eventLoopLag));
    this.series.inFlight[point] = http ? inFlight : NaN;
    if (!previous || now <= previous.time) return;
    const seconds = (now - previous.time) / 1000;
    const busy = cpu.user - previous.cpu.user + cpu.system - previous.cpu.system;
    this.series.cpuRatio[point] = busy / 1e6 / seconds;
    if (!http) return;
    for (let c = 0; c < CLASSES; c++) {
      this.series[`rate${c + 1}xx` as HistorySeries][point] = delta(counts[c], previous.counts[c]) / seconds;
    }
    if (width > 0 && family) {
      const deltas = deltasOf(buckets, previous.buckets);
      this.series.p50[point] = quantile(0.5, family.bounds, deltas);
      this.series.p95[point] = quantile(0.95, family.bounds, deltas);
      this.series.p99[point] = quantile(0.99, family.bounds, deltas);
    }
  }

  /** The page's data: `metrics` read now, against the oldest tick of the last minute. */
  view(metrics: MetricsSnapshot, now: number): StatusView {
    const byName = indexByName(metrics);
    const held = Math.min(this.ticks, this.windowSlots);
    const oldestSlot = held === 0 ? -1 : (this.ticks - held) % this.windowSlots;
    const since = oldestSlot === -1 ? now : this.windowTimes[oldestSlot];
    const seconds = Math.max((now - since) / 1000, 0);
    const sections = this.sources.families.flatMap((family, index) => {
      const groups = readFamily(byName, family);
      if (!byName.has(family.requests)) return [];
      const width = family.duration ? family.bounds.length + 1 : 0;
      const windows = this.windows[index];
      const rows: StatusRow[] = [];
      const total: GroupSample = {
        labels: {},
        counts: new Float64Array(CLASSES),
        buckets: new Float64Array(width),
        inFlight: 0,
      };
      const totalBase = { counts: new Float64Array(CLASSES), buckets: new Float64Array(width) };
      for (const [key, group] of groups) {
        const window = windows.get(key);
        const base = {
          counts:
            window && oldestSlot !== -1
              ? window.counts.subarray(oldestSlot * CLASSES, (oldestSlot + 1) * CLASSES)
              : new Float64Array(CLASSES),
          buckets:
            window && oldestSlot !== -1
              ? window.buckets.subarray(oldestSlot * width, (oldestSlot + 1) * width)
              : new Float64Array(width),
        };
        rows.push(toRow(group, base, family, seconds));
        addInto(total.counts, group.counts);
        addInto(total.buckets, group.buckets);
        addInto(totalBase.counts, base.counts);
        addInto(totalBase.buckets, base.buckets);
        total.inFlight += group.inFlight;
        for (const [name, count] of group.exceptions ?? []) {
          total.exceptions ??= new Map();
          total.exceptions.set(name, (total.exceptions.get(name) ?? 0) + count);
        }
      }
      rows.sort((a, b) => b.requests - a.requests);
      return [
        { name: family.section, keyLabels: family.keyLabels, total: toRow(total, totalBase, family, seconds), rows },
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
        cpuRatio: last === -1 ? null : finite(this.series.cpuRatio[last]),
        heapUsedBytes: getHeapStatistics().used_heap_size,
        eventLoopLagSeconds: finite(gaugeValue(byName.get(this.sources.eventLoopLag))),
      },
      history: this.historyView(),
      cardinality: cardinalityOf(metrics, byName, this.sources),
    };
  }

  private historyView(): StatusView['history'] {
    const count = Math.min(this.ticks, this.points);
    const first = this.ticks - count;
    const order = Array.from({ length: count }, (_, i) => (first + i) % this.points);
    const of = (name: HistorySeries) => order.map(i => finite(this.series[name][i]));
    return {
      time: order.map(i => this.times[i]),
      rate: {
        '1xx': of('rate1xx'),
        '2xx': of('rate2xx'),
        '3xx': of('rate3xx'),
        '4xx': of('rate4xx'),
        '5xx': of('rate5xx'),
      },
      p50: of('p50'),
      p95: of('p95'),
      p99: of('p99'),
      inFlight: of('inFlight'),
      cpuRatio: of('cpuRatio'),
      heapUsedBytes: of('heapUsedBytes'),
      eventLoopLagSeconds: of('eventLoopLagSeconds'),
    };
  }
}

function toRow(
  group: GroupSample,
  base: { counts: Float64Array; buckets: Float64Array },
  family: RequestFamily,
  seconds: number,
): StatusRow {
  let requests = 0;
  let windowed = 0;
  for (let c = 0; c < CLASSES; c++) {
    requests += group.counts[c];
    windowed += delta(group.counts[c], base.counts[c]);
  }
  const ratio = (c: number) => (windowed > 0 ? delta(group.counts[c], base.counts[c]) / windowed : null);
  const deltas = family.duration ? deltasOf(group.buckets, base.buckets) : undefined;
  const q = (p: number) => (deltas ? finite(quantile(p, family.bounds, deltas)) : null);
  const exceptions = [...(group.exceptions ?? [])]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([name, count]) => ({ name, count }));
  return {
    labels: group.labels,
    requests,
    rate: seconds > 0 ? windowed / seconds : 0,
    ratio4xx: ratio(3),
    ratio5xx: ratio(4),
    p50: q(0.5),
    p95: q(0.95),
    p99: q(0.99),
    inFlight: family.inProgress ? group.inFlight : null,
    exceptions,
  };
}

function indexByName(metrics: MetricsSnapshot): Map<string, MetricJson> {
  const byName = new Map<string, MetricJson>();
  for (const metric of metrics) byName.set(metric.name, metric);
  return byName;
}

function keyOf(labels: Labels, keyLabels: readonly string[]): string {
  let key = '';
  for (const name of keyLabels) key += `${String(labels[name] ?? '')}\u0000`;
  return key;
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

/**
 * The `q` quantile of a histogram's (cumulative) bucket counts, interpolated within its bucket as
 * Prometheus's `histogram_quantile()` does; the highest bound when it falls in `+Inf`; `NaN` without
 * observations.
 *
 * @example
 * ```ts
 * quantile(0.5, [0.1, 0.5], Float64Array.from([0, 10, 10])); // 0.3
 * ```
 */
export function quantile(q: number, bounds: readonly number[], cumulative: ArrayLike<number>): number {
  const total = cumulative[bounds.length];
  if (!(total > 0)) return NaN;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    if (cumulative[i] >= rank) {
      const lower = i === 0 ? 0 : bounds[i - 1];
      const below = i === 0 ? 0 : cumulative[i - 1];
      const inBucket = cumulative[i] - below;
      return inBucket > 0 ? lower + ((bounds[i] - lower) * (rank - below)) / inBucket : bounds[i];
    }
  }
  return bounds[bounds.length - 1];
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
