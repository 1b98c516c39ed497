import { type Labels, type Sample, SeriesMetric } from './series-metric.js';

export class CounterSeries {
  value = 0;
  constructor(readonly labels: Labels) {}
  inc(): void {
    this.value++;
  }
}

export class SeriesCounter extends SeriesMetric<CounterSeries> {
  readonly type = 'counter' as const;
  protected createSeries(labels: Labels): CounterSeries {
    return new CounterSeries(labels);
  }
  protected resetSeries(s: CounterSeries): void {
    s.value = 0;
  }
  protected collect(s: CounterSeries, out: Sample[]): void {
    out.push({ labels: s.labels, value: s.value });
  }
}
