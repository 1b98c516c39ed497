/**
 * The status page's view made of one or more processes' raw numbers: this process's alone, or, in a
 * `node:cluster`, every worker's. Each process sends counts and bucket counts (never rates or
 * quantiles, which do not add up); {@link mergeStatus} sums them and only then takes rates, shares
 * and quantiles, so the merged view is what one process serving every request would have shown.
 */

/** Requests are counted in five classes: 1xx to 5xx (`outcome` families: success in 2xx, error in 5xx). */
export const STATUS_CLASSES = 5;

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

/** A section of the page: `http` first, then `outbound`, `rpc`, `ws`, `graphql`. */
export type StatusSectionName = 'http' | 'outbound' | 'rpc' | 'ws' | 'graphql';

/** A metric of the cardinality panel. */
export interface StatusCardinalityMetric {
  name: string;
  type: string;
  series: number;
  overflowed: boolean;
  diverted: number;
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
  /**
   * Processes whose numbers the view holds: `1` of `1` outside a cluster; in a cluster, the workers
   * that answered within `cluster.timeoutMs` of those the primary knows (`expected: null` when the
   * primary did not answer: the view is then this worker's alone).
   */
  workers: { answered: number; expected: number | null };
  sections: { name: StatusSectionName; keyLabels: readonly string[]; total: StatusRow; rows: StatusRow[] }[];
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
    metrics: StatusCardinalityMetric[];
  };
}

/**
 * A row of one process, as counts: what {@link mergeStatus} adds up.
 *
 * @example
 * ```ts
 * const row: StatusSnapshotRow = { labels: { method: 'GET', route: '/a' }, requests: 10, window: [0, 4, 0, 1, 0], buckets: [3, 5, 5], inFlight: 0, exceptions: [] };
 * ```
 */
export interface StatusSnapshotRow {
  labels: Record<string, string>;
  /** Requests counted since the series began. */
  requests: number;
  /** Requests of the window per class (1xx to 5xx). */
  window: number[];
  /** The window's observations per bucket, cumulative (one per bound, then `+Inf`); empty without a histogram. */
  buckets: number[];
  inFlight: number;
  /** Every exception class and its count since start. */
  exceptions: [string, number][];
}

/**
 * One process's numbers for the page: counts, never rates or quantiles, so that they add up
 * across a cluster's workers. JSON, sent between processes over the cluster's IPC.
 *
 * @example
 * ```ts
 * const view = mergeStatus([history.snapshot(metrics, Date.now())], 1);
 * ```
 */
export interface StatusSnapshot {
  version: 1;
  time: number;
  refreshSeconds: number;
  historyMinutes: number;
  /** Seconds this process's window spans. */
  windowSeconds: number;
  sections: {
    name: StatusSectionName;
    keyLabels: readonly string[];
    /** The histogram's bounds (empty without one): a row's `buckets` follow them. */
    bounds: readonly number[];
    /** Whether the section has an in-progress gauge (`inFlight` is `null` on the page otherwise). */
    inProgress: boolean;
    rows: StatusSnapshotRow[];
  }[];
  process: { cpuRatio: number | null; heapUsedBytes: number; eventLoopLagSeconds: number | null };
  /** One entry per tick, oldest first; `null` where there is nothing (no HTTP metrics, the first tick). */
  history: {
    /** Bounds of the HTTP histogram: `buckets` follow them. */
    bounds: readonly number[];
    time: number[];
    /** Seconds since the previous tick. */
    seconds: (number | null)[];
    /** HTTP requests per class since the previous tick. */
    counts: (number[] | null)[];
    /** HTTP observations per bucket (cumulative) since the previous tick. */
    buckets: (number[] | null)[];
    inFlight: (number | null)[];
    cpuRatio: (number | null)[];
    heapUsedBytes: (number | null)[];
    eventLoopLagSeconds: (number | null)[];
  };
  cardinality: StatusView['cardinality'];
}

/**
 * Whether `value` looks like a {@link StatusSnapshot} this version can merge (another worker's,
 * received over IPC): a worker running another version of the package is left out, not trusted.
 *
 * @example
 * ```ts
 * const snapshots = received.filter(isStatusSnapshot);
 * ```
 */
export function isStatusSnapshot(value: unknown): value is StatusSnapshot {
  if (typeof value !== 'object' || value === null) return false;
  const s = value as Partial<StatusSnapshot>;
  return (
    s.version === 1 &&
    typeof s.time === 'number' &&
    Array.isArray(s.sections) &&
    typeof s.history === 'object' &&
    s.history !== null &&
    Array.isArray(s.history.time) &&
    typeof s.cardinality === 'object' &&
    s.cardinality !== null &&
    Array.isArray(s.cardinality.metrics)
  );
}

/**
 * The page's view of `snapshots` (the first is the process that serves the page; it gives the
 * settings): rows summed by their labels, each process's rate added (over its own window), the
 * shares and quantiles taken from the summed counts and bucket counts; the history summed over
 * aligned ticks (a point per `refreshSeconds` of wall clock; the processes tick on the same
 * boundaries), CPU and heap summed, event-loop lag the highest; cardinality per metric the most
 * series any process holds (each process's registry has its own `maxSeriesPerMetric`), overflowed
 * in any, diverted samples summed. With one snapshot its ticks are kept as they are.
 *
 * @example
 * ```ts
 * const view = mergeStatus([mine, ...theirs], workersTheClusterHas);
 * view.workers; // { answered: 1 + theirs.length, expected: workersTheClusterHas }
 * ```
 */
export function mergeStatus(snapshots: readonly StatusSnapshot[], expected: number | null): StatusView {
  const [first] = snapshots;
  if (!first) throw new Error('mergeStatus needs at least one snapshot');
  let time = first.time;
  let windowSeconds = 0;
  for (const s of snapshots) {
    time = Math.max(time, s.time);
    windowSeconds = Math.max(windowSeconds, s.windowSeconds);
  }
  return {
    version: 1,
    time,
    refreshSeconds: first.refreshSeconds,
    historyMinutes: first.historyMinutes,
    windowSeconds,
    workers: { answered: snapshots.length, expected },
    sections: mergeSections(snapshots),
    process: mergeProcess(snapshots),
    history: mergeHistory(snapshots),
    cardinality: mergeCardinality(snapshots),
  };
}

/** A row being summed: counts, bucket counts, and the sum of each process's rate. */
interface RowSum {
  labels: Record<string, string>;
  requests: number;
  window: Float64Array;
  buckets: Float64Array;
  rate: number;
  inFlight: number;
  exceptions: Map<string, number>;
}

function newRowSum(labels: Record<string, string>, width: number): RowSum {
  return {
    labels,
    requests: 0,
    window: new Float64Array(STATUS_CLASSES),
    buckets: new Float64Array(width),
    rate: 0,
    inFlight: 0,
    exceptions: new Map(),
  };
}

function addRow(sum: RowSum, row: StatusSnapshotRow, seconds: number): void {
  sum.requests += row.requests;
  let windowed = 0;
  for (let c = 0; c < STATUS_CLASSES; c++) {
    const count = row.window[c] ?? 0;
    sum.window[c] += count;
    windowed += count;
  }
  addInto(sum.buckets, row.buckets);
  if (seconds > 0) sum.rate += windowed / seconds;
  sum.inFlight += row.inFlight;
  for (const [name, count] of row.exceptions) sum.exceptions.set(name, (sum.exceptions.get(name) ?? 0) + count);
}

function mergeSections(snapshots: readonly StatusSnapshot[]): StatusView['sections'] {
  const sections = new Map<
    StatusSectionName,
    {
      keyLabels: readonly string[];
      bounds: readonly number[];
      inProgress: boolean;
      rows: Map<string, RowSum>;
      total: RowSum;
    }
  >();
  for (const snapshot of snapshots) {
    for (const section of snapshot.sections) {
      let merged = sections.get(section.name);
      if (!merged) {
        const width = section.bounds.length > 0 ? section.bounds.length + 1 : 0;
        merged = {
          keyLabels: section.keyLabels,
          bounds: section.bounds,
          inProgress: section.inProgress,
          rows: new Map(),
          total: newRowSum({}, width),
        };
        sections.set(section.name, merged);
      }
      for (const row of section.rows) {
        const key = keyOf(row.labels, merged.keyLabels);
        let sum = merged.rows.get(key);
        if (!sum) merged.rows.set(key, (sum = newRowSum(row.labels, merged.total.buckets.length)));
        addRow(sum, row, snapshot.windowSeconds);
        addRow(merged.total, row, snapshot.windowSeconds);
      }
    }
  }
  const out: StatusView['sections'] = [];
  // The order of the sections of the page that serves it.
  for (const [name, merged] of sections) {
    const rows = [...merged.rows.values()].map(sum => toRow(sum, merged.bounds, merged.inProgress));
    rows.sort((a, b) => b.requests - a.requests);
    out.push({ name, keyLabels: merged.keyLabels, total: toRow(merged.total, merged.bounds, merged.inProgress), rows });
  }
  return out;
}

function toRow(sum: RowSum, bounds: readonly number[], inProgress: boolean): StatusRow {
  let windowed = 0;
  for (let c = 0; c < STATUS_CLASSES; c++) windowed += sum.window[c];
  const ratio = (c: number) => (windowed > 0 ? sum.window[c] / windowed : null);
  const q = (p: number) => (sum.buckets.length > 0 ? finite(quantile(p, bounds, sum.buckets)) : null);
  const exceptions = [...sum.exceptions]
    .filter(([, count]) => count > 0)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([name, count]) => ({ name, count }));
  return {
    labels: sum.labels,
    requests: sum.requests,
    rate: sum.rate,
    ratio4xx: ratio(3),
    ratio5xx: ratio(4),
    p50: q(0.5),
    p95: q(0.95),
    p99: q(0.99),
    inFlight: inProgress ? sum.inFlight : null,
    exceptions,
  };
}

function mergeProcess(snapshots: readonly StatusSnapshot[]): StatusView['process'] {
  let cpuRatio: number | null = null;
  let heapUsedBytes = 0;
  let eventLoopLagSeconds: number | null = null;
  for (const { process } of snapshots) {
    if (process.cpuRatio !== null) cpuRatio = (cpuRatio ?? 0) + process.cpuRatio;
    heapUsedBytes += process.heapUsedBytes;
    if (process.eventLoopLagSeconds !== null) {
      eventLoopLagSeconds = Math.max(eventLoopLagSeconds ?? 0, process.eventLoopLagSeconds);
    }
  }
  return { cpuRatio, heapUsedBytes, eventLoopLagSeconds };
}

/** One point of the merged history: the sums of the processes' ticks that fall on it. */
interface PointSum {
  time: number;
  /** Per class: the sum over processes of each one's requests per second. */
  rates: Float64Array | null;
  buckets: Float64Array | null;
  inFlight: number | null;
  cpuRatio: number | null;
  heapUsedBytes: number | null;
  eventLoopLagSeconds: number | null;
}

function mergeHistory(snapshots: readonly StatusSnapshot[]): StatusView['history'] {
  const first = snapshots[0];
  const stepMs = first.refreshSeconds * 1000;
  const bounds = first.history.bounds;
  const width = bounds.length > 0 ? bounds.length + 1 : 0;
  const points = new Map<number, PointSum>();
  for (const snapshot of snapshots) {
    const h = snapshot.history;
    // A process's ticks that land on the same point (its first tick, taken at bootstrap, and the
    // next on the boundary) are summed first: its rate is their counts over their seconds.
    const own = new Map<number, { counts: Float64Array; seconds: number }>();
    for (let i = 0; i < h.time.length; i++) {
      // One snapshot: its ticks as they are (however close: a test's ticks).
      const key = snapshots.length === 1 ? i : Math.round(h.time[i] / stepMs);
      let point = points.get(key);
      if (!point) {
        point = {
          time: snapshots.length === 1 ? h.time[i] : key * stepMs,
          rates: null,
          buckets: null,
          inFlight: null,
          cpuRatio: null,
          heapUsedBytes: null,
          eventLoopLagSeconds: null,
        };
        points.set(key, point);
      }
      const counts = h.counts[i];
      const seconds = h.seconds[i];
      if (counts && seconds !== null && seconds > 0) {
        let mine = own.get(key);
        if (!mine) own.set(key, (mine = { counts: new Float64Array(STATUS_CLASSES), seconds: 0 }));
        addInto(mine.counts, counts);
        mine.seconds += seconds;
      }
      const buckets = h.buckets[i];
      if (buckets && width > 0) addInto((point.buckets ??= new Float64Array(width)), buckets);
      const last = snapshots.length === 1 || i === h.time.length - 1 || Math.round(h.time[i + 1] / stepMs) !== key;
      // Gauges: the process's last reading on the point.
      if (last) {
        point.inFlight = addNullable(point.inFlight, h.inFlight[i]);
        point.cpuRatio = addNullable(point.cpuRatio, h.cpuRatio[i]);
        point.heapUsedBytes = addNullable(point.heapUsedBytes, h.heapUsedBytes[i]);
        const lag = h.eventLoopLagSeconds[i];
        if (lag !== null && lag !== undefined)
          point.eventLoopLagSeconds = Math.max(point.eventLoopLagSeconds ?? 0, lag);
      }
    }
    for (const [key, mine] of own) {
      const point = points.get(key) as PointSum;
      point.rates ??= new Float64Array(STATUS_CLASSES);
      for (let c = 0; c < STATUS_CLASSES; c++) point.rates[c] += mine.counts[c] / mine.seconds;
    }
  }
  const keys = [...points.keys()].sort((a, b) => a - b);
  // At most the history's length: ticks that are not aligned (a worker's bootstrap tick) make more keys.
  const capacity = Math.ceil((first.historyMinutes * 60) / first.refreshSeconds);
  const kept = snapshots.length === 1 ? keys : keys.slice(-capacity);
  const ordered = kept.map(key => points.get(key) as PointSum);
  const rate = (c: number) => ordered.map(p => (p.rates ? p.rates[c] : null));
  const q = (p: number) => ordered.map(point => (point.buckets ? finite(quantile(p, bounds, point.buckets)) : null));
  return {
    time: ordered.map(p => p.time),
    rate: { '1xx': rate(0), '2xx': rate(1), '3xx': rate(2), '4xx': rate(3), '5xx': rate(4) },
    p50: q(0.5),
    p95: q(0.95),
    p99: q(0.99),
    inFlight: ordered.map(p => p.inFlight),
    cpuRatio: ordered.map(p => p.cpuRatio),
    heapUsedBytes: ordered.map(p => p.heapUsedBytes),
    eventLoopLagSeconds: ordered.map(p => p.eventLoopLagSeconds),
  };
}

function mergeCardinality(snapshots: readonly StatusSnapshot[]): StatusView['cardinality'] {
  const byName = new Map<string, StatusCardinalityMetric>();
  for (const { cardinality } of snapshots) {
    for (const metric of cardinality.metrics) {
      const seen = byName.get(metric.name);
      if (!seen) {
        byName.set(metric.name, { ...metric });
        continue;
      }
      seen.series = Math.max(seen.series, metric.series);
      seen.overflowed ||= metric.overflowed;
      seen.diverted += metric.diverted;
    }
  }
  const metrics = [...byName.values()];
  metrics.sort((a, b) => b.series - a.series || a.name.localeCompare(b.name));
  return { maxSeriesPerMetric: snapshots[0].cardinality.maxSeriesPerMetric, metrics };
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

/**
 * The key of a row: its key labels' values, in order.
 *
 * @example
 * ```ts
 * keyOf({ method: 'GET', route: '/a', status_code: '200' }, ['method', 'route']); // 'GET\0/a\0'
 * ```
 */
export function keyOf(labels: Record<string, string | number | undefined>, keyLabels: readonly string[]): string {
  let key = '';
  for (const name of keyLabels) key += `${String(labels[name] ?? '')}\u0000`;
  return key;
}

function addNullable(sum: number | null, value: number | null | undefined): number | null {
  return value === null || value === undefined ? sum : (sum ?? 0) + value;
}

function addInto(target: Float64Array, source: ArrayLike<number>): void {
  for (let i = 0; i < target.length && i < source.length; i++) target[i] += source[i] ?? 0;
}

function finite(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}
