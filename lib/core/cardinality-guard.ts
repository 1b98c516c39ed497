import { Logger } from '@nestjs/common';
import type { Registry } from 'prom-client';
import { annotation } from './annotation.js';
import { findOrRegisterMetric } from './metric-registrar.js';
import { type CounterSeries, CounterFamily } from './counter-family.js';
import type { Labels } from './samples.js';
import { OVERFLOW_LABEL_VALUE } from './core.constants.js';
import { overflowLabels } from './overflow-labels.js';

export const OVERFLOW_METRIC = 'prometheus_series_overflow_total';

export interface CardinalityLimits {
  /** `Infinity`: no cap. */
  maxSeries: number;
  /** `Infinity`: no truncation. */
  maxLabelValueLength: number;
}

// Label sets admitted per prom-client metric, shared by every app of the process that records into it.
const admitted = annotation<Set<string>>('admitted-label-sets');
// Metrics already warned about, per registry's overflow counter.
const warned = annotation<Set<string>>('overflow-warned');

/**
 * Keeps every metric the module creates within `maxSeriesPerMetric` label sets and label values
 * within `maxLabelValueLength`, so that label values taken from requests (ids, paths) cannot grow
 * memory or the scrape without bound. Label sets past the cap share one `__overflow__` series.
 */
export class CardinalityGuard {
  private readonly logger = new Logger('PrometheusModule');
  private readonly overflow?: CounterFamily;

  constructor(
    registry: Registry,
    readonly limits: CardinalityLimits,
  ) {
    if (limits.maxSeries === Infinity) return;
    this.overflow = findOrRegisterMetric(
      registry,
      {
        type: 'counter',
        name: OVERFLOW_METRIC,
        help: 'Samples recorded under the __overflow__ series because their metric reached maxSeriesPerMetric',
        labelNames: ['metric'],
        declaredBy: 'PrometheusModule (maxSeriesPerMetric)',
      },
      CounterFamily,
      () =>
        new CounterFamily(
          OVERFLOW_METRIC,
          'Samples recorded under the __overflow__ series because their metric reached maxSeriesPerMetric',
          ['metric'],
        ),
    );
  }

  get maxSeries(): number {
    return this.limits.maxSeries;
  }

  /** The counter of samples diverted from `metric`; warns the first time a metric overflows. */
  diverted(metric: string): CounterSeries {
    const overflow = this.overflow as CounterFamily;
    const names = warned.get(overflow) ?? warned.set(overflow, new Set());
    if (!names.has(metric)) {
      names.add(metric);
      this.logger.warn(
        `Metric "${metric}" reached maxSeriesPerMetric (${this.limits.maxSeries} label sets): new label sets ` +
          `are recorded under the series labelled "${OVERFLOW_LABEL_VALUE}" and counted in ${OVERFLOW_METRIC}. ` +
          'A label takes unbounded values (ids, paths?); fix the label or raise the cap.',
      );
    }
    return overflow.child([metric]);
  }

  /** The label value as it will be recorded: truncated to `maxLabelValueLength`. */
  labelValue(value: string | number): string | number {
    const max = this.limits.maxLabelValueLength;
    if (typeof value !== 'string' || value.length <= max) return value;
    // Never split a surrogate pair: half of one is not a character.
    const code = value.charCodeAt(max - 1);
    return copyOf(value.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max));
  }

  /** Whether a label value must be truncated. */
  tooLong(value: string | number): boolean {
    return typeof value === 'string' && value.length > this.limits.maxLabelValueLength;
  }

  /**
   * The labels to record a sample of a prom-client `metric` under: `labels` while the metric has
   * room for their label set (or already holds it), the overflow label set past the cap.
   */
  admit(metric: object, labelNames: readonly string[], labels: Labels): Labels {
    if (this.limits.maxSeries === Infinity || labelNames.length === 0) return labels;
    const seen = admitted.get(metric) ?? admitted.set(metric, new Set());
    // JSON, not a join: a separator inside a value must not make two label sets one key.
    const key =
      labelNames.length === 1 ? String(labels[labelNames[0]]) : JSON.stringify(labelNames.map(n => labels[n]));
    if (seen.has(key)) return labels;
    if (seen.size < this.limits.maxSeries) {
      seen.add(key);
      return labels;
    }
    this.diverted((metric as { name?: string }).name ?? 'unknown').inc();
    return overflowLabels(labelNames);
  }
}

/**
 * A string of its own: V8 keeps a slice's whole parent alive, so a 128-character label kept from
 * an 8 KB header value would hold all 8 KB. JSON round-trips any string, lone surrogates included.
 */
function copyOf(text: string): string {
  return JSON.parse(JSON.stringify(text)) as string;
}
