import type { Labels } from './samples.js';
import { OVERFLOW_LABEL_VALUE } from './core.constants.js';

/** The label set of a metric's overflow series: every label `__overflow__`. */
export function overflowLabels(labelNames: readonly string[]): Labels {
  const labels: Labels = {};
  for (const name of labelNames) labels[name] = OVERFLOW_LABEL_VALUE;
  return labels;
}
