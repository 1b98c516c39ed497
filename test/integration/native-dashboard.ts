/**
 * The native-histogram panels of observability/grafana-dashboard.json: those inside the row titled
 * {@link NATIVE_ROW_TITLE}. Their series exist only when the app records native histograms and
 * Prometheus scrapes them over protobuf, so observability.int-spec.ts (the classic sample app)
 * leaves them out and native-histograms.int-spec.ts checks them against native series.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './harness.js';

export const NATIVE_ROW_TITLE = 'Latency (native histograms)';

export interface DashboardTarget {
  /** The title of the panel the target belongs to. */
  panel: string;
  refId?: string;
  expr: string;
  legendFormat?: string;
}

interface RowPanel {
  type?: string;
  title?: string;
  panels?: { title?: string; targets?: { expr?: string; refId?: string; legendFormat?: string }[] }[];
}

/**
 * The titles and targets of the panels of the native row (empty when the row is missing).
 *
 * @example
 * for (const t of nativeDashboardTargets()) await prom.query(t.expr.replaceAll('${prefix}', ''));
 */
export function nativeDashboardTargets(): DashboardTarget[] {
  const dashboard = JSON.parse(readFileSync(join(ROOT, 'observability', 'grafana-dashboard.json'), 'utf8')) as {
    panels: RowPanel[];
  };
  const row = dashboard.panels.find(p => p.type === 'row' && p.title === NATIVE_ROW_TITLE);
  return (row?.panels ?? []).flatMap(p =>
    (p.targets ?? []).map(t => ({
      panel: p.title ?? '',
      refId: t.refId,
      expr: t.expr ?? '',
      legendFormat: t.legendFormat,
    })),
  );
}
