import { labelPairs } from './exposition/escape.js';
import { type DivertedSamples, SeriesFamily } from './series-family.js';
import { type Exemplar, exemplarFits, type Labels, type Sample } from './samples.js';

export class CounterSeries {
  value = 0;
  exemplar?: Exemplar;
  /** The labels as exposition text (`a="x",b="y"`), escaped once here rather than at every scrape. */
  readonly labelText: string;
  constructor(readonly labels: Labels) {
    this.labelText = labelPairs(labels);
  }
  inc(): void {
    this.value++;
  }
  /** Increments, and keeps `labelSet` as the series' latest exemplar if it fits OpenMetrics' limit. */
  incWithExemplar(labelSet: Record<string, string>): void {
    this.inc();
    if (exemplarFits(labelSet)) this.exemplar = { labelSet, value: 1, timestamp: Date.now() / 1000 };
  }
}

/** The overflow series: counts each increment it takes as diverted too. */
class OverflowCounterSeries extends CounterSeries {
  constructor(
    labels: Labels,
    private readonly diverted: DivertedSamples,
  ) {
    super(labels);
  }
  override inc(): void {
    this.value++;
    this.diverted.inc();
  }
}

export class CounterFamily extends SeriesFamily<CounterSeries> {
  readonly type = 'counter' as const;
  protected createSeries(labels: Labels): CounterSeries {
    return new CounterSeries(labels);
  }
  protected createOverflowSeries(labels: Labels, diverted: DivertedSamples): CounterSeries {
    return new OverflowCounterSeries(labels, diverted);
  }
  protected resetSeries(s: CounterSeries): void {
    s.value = 0;
    s.exemplar = undefined;
  }
  protected collect(s: CounterSeries, out: Sample[]): void {
    out.push(
      s.exemplar ? { labels: s.labels, value: s.value, exemplar: s.exemplar } : { labels: s.labels, value: s.value },
    );
  }
}
