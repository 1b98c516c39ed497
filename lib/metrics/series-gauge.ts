import { type Labels, type Sample, SeriesMetric } from './series-metric.js';

export class GaugeSeries {
  value = 0;
  constructor(readonly labels: Labels) {}
  inc(): void {
    this.value++;
  }
  dec(): void {
    this.value--;
  }
}

export class SeriesGauge extends SeriesMetric<GaugeSeries> {
  readonly type = 'gauge' as const;
  protected createSeries(labels: Labels): GaugeSeries {
    return new GaugeSeries(labels);
  }
  // A gauge of work in flight must not be zeroed under running requests: they still end.
  protected resetSeries(): void {}
  protected collect(s: GaugeSeries, out: Sample[]): void {
    out.push({ labels: s.labels, value: s.value });
  }
}
