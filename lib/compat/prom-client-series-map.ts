// Reading a plain prom-client Counter's or Gauge's series from its internal `hashMap`, in slices,
// instead of through `get()`: see `promClientSeriesReader`.
import { Counter, Gauge } from 'prom-client';

/**
 * One series of a prom-client Counter or Gauge as its `hashMap` holds it: the very object that
 * `get()` lists in `values`.
 */
export interface PromClientSeries {
  value: number;
  labels?: Record<string, unknown>;
  exemplar?: { labelSet: Record<string, unknown>; value: number; timestamp: unknown } | null;
}

/**
 * The series of one prom-client metric, in the order its `get()` lists them.
 *
 * @example
 * ```ts
 * const reader = promClientSeriesReader(counter);
 * if (reader) for (const series of reader.series()) write(series.labels, series.value);
 * ```
 */
export interface PromClientSeriesReader {
  /**
   * The series, one at a time: a caller may stop between two (yield to the event loop) and go
   * on. Series added meanwhile come at the end, series removed meanwhile are skipped.
   */
  series(): IterableIterator<PromClientSeries>;
}

/** The keys of one `hashMap` object, in its enumeration order, kept as series are added. */
interface TrackedMap {
  readonly map: Record<string, PromClientSeries | undefined>;
  readonly keys: Set<string>;
}

const tracked = new WeakMap<object, TrackedMap>();

interface HashMapHolder {
  hashMap?: unknown;
  collect?: unknown;
}

/**
 * A reader of a plain prom-client `Counter` or `Gauge` (one the app made itself, in the registry
 * the module scrapes), or `undefined` when the metric is anything else or its internals are not
 * as described below (the caller then uses `get()`).
 *
 * Why: `get()` returns `Object.values(this.hashMap)`, one synchronous call: 20 to 45 ms for 31k
 * series on a 2-core machine (even `Object.keys` of it is 7 to 15 ms), so a scrape could not
 * give the event loop back every few milliseconds. This reader lists the keys itself, as series
 * are added, and reads the entries one at a time.
 *
 * Relies on (prom-client 11 to 15.1, checked in 15.1.3's lib/counter.js, gauge.js, util.js):
 * - the metric keeps its series in `this.hashMap`, a plain object keyed by a label hash (never an
 *   array index: `name:value,` pairs, or `''`), each value `{ value, labels, exemplar? }`, the
 *   objects `get()` lists, in the object's key order;
 * - a new series is added by assignment (`hashMap[hash] = { value, labels }`), a series removed
 *   by `delete`, and `reset()` replaces `hashMap` by a new object;
 * - `get()` reads nothing else when the metric has no `collect` callback (metrics with one are
 *   not read here: their `collect` must run, with the collect guard around it).
 *
 * How it sees additions without costing an existing series anything: the `hashMap` object gets
 * a prototype that is a Proxy (over an empty object inheriting what the old prototype gave).
 * Reads and writes of existing keys are own-property accesses and never reach it; assigning a
 * new key walks the prototype chain, reaches the Proxy's `set` trap, which records the key and
 * defines it on the `hashMap` as a plain assignment would. A `reset()`'s new object is tracked
 * anew (its keys listed once, with `Object.keys`) at the next read.
 *
 * Breaks (test): lib/compat/prom-client-series-map.spec.ts (order, additions, removals, reset,
 * unknown shapes) and test/exposition-equality (byte-for-byte prom-client's output).
 *
 * @example
 * ```ts
 * const reader = promClientSeriesReader(registry.getSingleMetric('orders_total')!);
 * for (const { labels, value } of reader?.series() ?? []) console.log(labels, value);
 * ```
 */
export function promClientSeriesReader(metric: object): PromClientSeriesReader | undefined {
  // Exactly prom-client's classes: a subclass may override get() and render something else.
  const constructor = (metric as { constructor?: unknown }).constructor;
  if (constructor !== Counter && constructor !== Gauge) return undefined;
  const holder = metric as HashMapHolder;
  if (typeof holder.collect === 'function') return undefined;
  if (!isSeriesMap(holder.hashMap)) return undefined;
  // The map of this moment: a reset() during the rendering does not change what it reads.
  const state = tracked.get(holder.hashMap) as TrackedMap;
  return {
    series: () => readSeries(state),
  };
}

/**
 * Whether a metric is a plain prom-client Counter or Gauge whose series this file cannot read
 * (its internals differ from what `promClientSeriesReader` relies on): the renderer warns once
 * and reads it with `get()`.
 *
 * @example
 * if (hasUnreadableSeriesMap(metric)) logger.warn(`${metric.name}: read with get()`);
 */
export function hasUnreadableSeriesMap(metric: object): boolean {
  const constructor = (metric as { constructor?: unknown }).constructor;
  if (constructor !== Counter && constructor !== Gauge) return false;
  const holder = metric as HashMapHolder;
  return typeof holder.collect !== 'function' && !isSeriesMap(holder.hashMap);
}

function isSeriesMap(map: unknown): map is Record<string, PromClientSeries | undefined> {
  if (map === null || typeof map !== 'object' || Array.isArray(map)) return false;
  if (tracked.has(map)) return true;
  // A plain object, as prom-client makes it (`{}`): not a Map or another class.
  if (Object.getPrototypeOf(map) !== Object.prototype) return false;
  // Not `for...in`: on a map of 30k keys it lists them all (10 ms) to look at one. This is the
  // first read of this map: list its keys once, look at one entry (all are made by the same two
  // lines of prom-client), and keep the list if the shape is the expected one.
  const keys = Object.keys(map);
  if (keys.length > 0) {
    const entry = (map as Record<string, unknown>)[keys[0]] as { value?: unknown } | null;
    if (entry === null || typeof entry !== 'object' || typeof entry.value !== 'number') return false;
  }
  track(map as Record<string, PromClientSeries | undefined>, keys);
  return true;
}

function* readSeries(state: TrackedMap): IterableIterator<PromClientSeries> {
  for (const key of state.keys) {
    // One lookup: a key prom-client makes (`name:value,` pairs, or '') is never one that the
    // prototype chain answers, so a missing series reads as undefined.
    const entry = state.map[key];
    if (entry === undefined || entry === null || typeof entry !== 'object') {
      // Removed (`remove()`): forgotten; if it comes back, the trap adds it at the end, where
      // the object's own order puts it.
      state.keys.delete(key);
      continue;
    }
    yield entry;
  }
}

/** Once per map object: at its first scrape, and after a reset() (a new, usually small, map). */
function track(map: Record<string, PromClientSeries | undefined>, listed: string[]): void {
  const keys = new Set(listed);
  const state: TrackedMap = { map, keys };
  const inherited = Object.create(Object.getPrototypeOf(map) as object | null) as object;
  const watcher = new Proxy(inherited, {
    set(target, key, value, receiver) {
      if (receiver === map && typeof key === 'string') {
        // A key deleted and added again moves to the end, as in the object's own order.
        keys.delete(key);
        keys.add(key);
      }
      // Defines the property on the receiver (the hashMap), as the plain assignment would have.
      return Reflect.set(target, key, value, receiver);
    },
  });
  Object.setPrototypeOf(map, watcher);
  tracked.set(map, state);
}
