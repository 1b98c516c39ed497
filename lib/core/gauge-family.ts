import { labelPairs } from './exposition/escape.js';
import { type DivertedSamples, SeriesFamily } from './series-family.js';
import { type Labels, type Sample } from './samples.js';

export class GaugeSeries {
  value = 0;
  /** The labels as exposition text (`a="x",b="y"`), escaped once here rather than at every scrape. */
  readonly labelText: string;
  constructor(readonly labels: Labels) {
    this.labelText = labelPairs(labels);
  }
  inc(): void {
    this.value++;
  }
  dec(): void {
    this.value--;
  }
}

/** The overflow series: counts each increment it takes as a diverted sample. */
class OverflowGaugeSeries extends GaugeSeries {
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

export class GaugeFamily extends SeriesFamily<GaugeSeries> {
  readonly type = 'gauge' as const;
  protected createSeries(labels: Labels): GaugeSeries {
    return new GaugeSeries(labels);
  }
  protected createOverflowSeries(labels: Labels, diverted: DivertedSamples): GaugeSeries {
    return new OverflowGaugeSeries(labels, diverted);
  }
  // A gauge of work in flight must not be zeroed under running requests: they still end.
  protected resetSeries(): void {}
  protected collect(s: GaugeSeries, out: Sample[]): void {
    out.push({ labels: s.labels, value: s.value });
  }
}
