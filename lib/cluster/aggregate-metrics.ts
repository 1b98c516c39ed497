import { setImmediate as nextTurn } from 'node:timers/promises';
import { type CollectedValues, SLICE_BUDGET_MS } from '../core/exposition/render-exposition.js';
import type { MetricsJson } from '../core/exposition/render-metrics.js';

type Metric = MetricsJson[number];
/** A sample as workers send it (prom-client's typings leave out `metricName`). */
type Value = Metric['values'][number] & { metricName?: string };
type Sample = NonNullable<CollectedValues['values']>[number];

/** How the samples of one series across workers combine, by a metric's `aggregator`. */
const COMBINE = {
  sum: (acc: number, v: number) => acc + v,
  first: (acc: number) => acc,
  min: (acc: number, v: number) => Math.min(acc, v),
  max: (acc: number, v: number) => Math.max(acc, v),
  // Summed here, divided by the number of workers at the end.
  average: (acc: number, v: number) => acc + v,
} as const;
type AggregatorName = keyof typeof COMBINE;
const START: Record<AggregatorName, (first: number) => number> = {
  sum: v => 0 + v,
  first: v => v,
  min: v => Math.min(Infinity, v),
  max: v => Math.max(-Infinity, v),
  average: v => 0 + v,
};

/** Samples checked between two looks at the clock. */
const CHECK_EVERY = 64;

/**
 * The workers' registries (`getMetricsAsJSON()` of each) combined as prom-client's
 * `AggregatorRegistry.aggregate()` combines them (by each metric's `aggregator`: `sum`, `first`,
 * `min`, `max`, `average`, `omit`; samples of a series matched by sample name and label set;
 * exemplars and timestamps dropped), but in slices: it yields to the event loop every few
 * milliseconds, where prom-client's takes hundreds of milliseconds in one piece for 4 workers of
 * 10k series. One difference: label sets are matched exactly, where prom-client's key
 * (`name:value,` pairs) could merge two label sets whose values contain `,` or `:`.
 *
 * @example
 * const metrics = await aggregateInSlices([await a.getMetricsAsJSON(), await b.getMetricsAsJSON()]);
 */
export async function aggregateInSlices(workers: readonly MetricsJson[]): Promise<CollectedValues[]> {
  const byName = new Map<string, Metric[]>();
  for (const metrics of workers) {
    for (const metric of metrics) {
      const same = byName.get(metric.name);
      if (same) same.push(metric);
      else byName.set(metric.name, [metric]);
    }
  }
  const result: CollectedValues[] = [];
  let sliceStarted = performance.now();
  let sinceCheck = 0;
  for (const metrics of byName.values()) {
    const aggregator = metrics[0].aggregator as string;
    if (aggregator === 'omit') continue;
    if (!Object.prototype.hasOwnProperty.call(COMBINE, aggregator)) {
      throw new Error(`'${aggregator}' is not a defined aggregator.`);
    }
    const combine = COMBINE[aggregator as AggregatorName];
    const start = START[aggregator as AggregatorName];
    const groups = new SampleGroups();
    for (const metric of metrics) {
      for (const value of metric.values as Value[]) {
        const g = groups.find(value);
        if (g === -1) groups.add(value, start(value.value));
        else {
          groups.values[g] = combine(groups.values[g], value.value);
          groups.counts[g]++;
        }
        if (++sinceCheck >= CHECK_EVERY) {
          sinceCheck = 0;
          if (performance.now() - sliceStarted >= SLICE_BUDGET_MS) {
            await nextTurn();
            sliceStarted = performance.now();
          }
        }
      }
    }
    // The groups' count is the metric's series count: a turn before listing them.
    await nextTurn();
    sliceStarted = performance.now();
    const values: Sample[] = [];
    for (let g = 0; g < groups.values.length; g++) {
      const value = aggregator === 'average' ? groups.values[g] / groups.counts[g] : groups.values[g];
      const metricName = groups.metricNames[g];
      values.push(metricName ? { value, labels: groups.labels[g], metricName } : { value, labels: groups.labels[g] });
    }
    const first = metrics[0];
    result.push({ help: first.help, name: first.name, type: first.type as unknown as string, values });
  }
  return result;
}

/**
 * One metric's samples across workers, grouped by sample name and label set, in flat arrays
 * indexed by group (in order of first appearance) and found by a hash of the label set.
 *
 * Why not a map keyed by a string of the label set: the groups live across the aggregation's
 * slices, so every young-generation GC during it copied a key string and a group object per
 * sample (116k samples for 4 workers of 16k series): scavenges of 10 to 37 ms, the primary's
 * longest stall. Here a sample adds numbers to arrays and a reference to the labels object the
 * worker sent.
 */
class SampleGroups {
  readonly labels: Value['labels'][] = [];
  readonly metricNames: (string | undefined)[] = [];
  readonly values: number[] = [];
  readonly counts: number[] = [];
  /** Hash -> the first group with it; `next` chains the others (-1 ends a chain). */
  private readonly byHash = new Map<number, number>();
  private readonly next: number[] = [];
  // What the last `find()` that found nothing saw: `add()` joins the new group there without
  // hashing the sample and walking its chain again.
  private missedHash = 0;
  private missedTail = -1;

  /** The group of this sample's name and label set, or -1. */
  find(sample: Value): number {
    const hash = sampleHash(sample);
    let g = this.byHash.get(hash) ?? -1;
    let tail = -1;
    while (g !== -1 && !(this.metricNames[g] === sample.metricName && sameLabels(this.labels[g], sample.labels))) {
      tail = g;
      g = this.next[g];
    }
    if (g === -1) {
      this.missedHash = hash;
      this.missedTail = tail;
    }
    return g;
  }

  /** A new group, for the sample the last `find()` found none for. */
  add(sample: Value, value: number): void {
    const g = this.values.length;
    this.labels.push(sample.labels);
    this.metricNames.push(sample.metricName);
    this.values.push(value);
    this.counts.push(1);
    this.next.push(-1);
    if (this.missedTail === -1) this.byHash.set(this.missedHash, g);
    else this.next[this.missedTail] = g;
  }
}

/**
 * A hash of a sample's name and label set whatever the order of its keys (undefined values left
 * out, as prom-client does): the pairs' hashes are added. A small integer, so the map's keys are
 * not boxed numbers.
 */
function sampleHash(sample: Value): number {
  let hash = sample.metricName === undefined ? 0 : stringHash(sample.metricName, 0x811c9dc5);
  const labels = sample.labels as Record<string, string | number | undefined>;
  for (const k in labels) {
    const v = labels[k];
    if (v === undefined) continue;
    hash = (hash + stringHash(typeof v === 'string' ? v : String(v), stringHash(k, 0x811c9dc5) ^ 0xff)) | 0;
  }
  return hash & 0x3fffffff;
}

/** FNV-1a over a string's UTF-16 units, from `seed`. */
function stringHash(text: string, seed: number): number {
  let h = seed;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h;
}

/** Whether two label sets are the same (values compared as strings, undefined ones left out). */
function sameLabels(a: Value['labels'], b: Value['labels']): boolean {
  const x = a as Record<string, string | number | undefined>;
  const y = b as Record<string, string | number | undefined>;
  let defined = 0;
  for (const k in x) {
    const v = x[k];
    if (v === undefined) continue;
    defined++;
    const w = y[k];
    if (w === undefined || (w !== v && String(w) !== String(v))) return false;
  }
  for (const k in y) if (y[k] !== undefined) defined--;
  return defined === 0;
}
