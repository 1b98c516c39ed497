import { Logger } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, type RegistryContentType, Summary } from 'prom-client';
import { parseExposition } from '../../../test/utils/exposition.js';
import { registerCollectableMetric } from '../../compat/prom-client.js';
import { CounterFamily } from '../counter-family.js';
import { GaugeFamily } from '../gauge-family.js';
import { HistogramFamily } from '../histogram-family.js';
import { CardinalityGuard } from '../cardinality-guard.js';
import { type ExpositionFormat, renderExposition } from './render-exposition.js';

/** Label values that exercise every escape, and characters that must pass through unchanged. */
const NASTY = ['back\\slash', 'line\nfeed', 'quote"d', 'unicode ✓ 日本 🎉', 'all \\"\n\\n', '', '{},= #'];

type ContentType = RegistryContentType;

/** A registry holding every kind of metric, the module's and prom-client's, with the same values each time. */
function build(contentType: ContentType, defaultLabels?: Record<string, string>): Registry<ContentType> {
  // Exemplars carry the time they were recorded: the same in every registry built.
  const now = Date.now;
  Date.now = () => 1_700_000_000_123;
  try {
    return fill(contentType, defaultLabels);
  } finally {
    Date.now = now;
  }
}

function fill(contentType: ContentType, defaultLabels?: Record<string, string>): Registry<ContentType> {
  const registry = new (Registry as new (t: ContentType) => Registry<ContentType>)(contentType);
  if (defaultLabels) registry.setDefaultLabels(defaultLabels);
  const exemplars = contentType === Registry.OPENMETRICS_CONTENT_TYPE;

  const calls = new CounterFamily('ours_calls_total', 'Our counter: a \\ backslash\nand a line', ['route', 'code']);
  registerCollectableMetric(registry, calls);
  NASTY.forEach((v, i) => {
    const s = calls.child([v, 200 + i]);
    for (let k = 0; k <= i; k++) s.inc();
  });
  calls.child(['/with-exemplar', 201]).incWithExemplar({ trace_id: 'abc"\\\n' });
  // Past the guard's limit: the overflow series is rendered too.
  const limited = new CounterFamily('ours_limited_total', 'Limited', ['user']);
  limited.limitBy(new CardinalityGuard(registry as Registry, { maxSeries: 2, maxLabelValueLength: Infinity }));
  registerCollectableMetric(registry, limited);
  for (const u of ['a', 'b', 'c', 'd']) limited.child([u]).inc();

  const inFlight = new GaugeFamily('ours_in_flight', 'Our gauge', ['route']);
  registerCollectableMetric(registry, inFlight);
  inFlight.child(['/a']).inc();
  inFlight.child([NASTY[2]]).dec();

  const durations = new HistogramFamily('ours_duration_seconds', 'Our histogram', ['route'], [0.1, 0.5, 2.5]);
  registerCollectableMetric(registry, durations);
  durations.child(['/a']).observe(0.05);
  durations.child(['/a']).observe(3);
  durations.child([NASTY[1]]).observeWithExemplar(0.3, { trace_id: 't1' });
  const unlabelled = new HistogramFamily('ours_unlabelled_seconds', 'No labels', [], [1]);
  registerCollectableMetric(registry, unlabelled);
  unlabelled.child([]).observe(0.5);
  registerCollectableMetric(registry, new CounterFamily('ours_empty_total', 'No series yet', ['x']));

  const items = new Counter({
    name: 'plain_items_total',
    help: 'A prom-client counter',
    labelNames: ['item'],
    registers: [registry],
    enableExemplars: exemplars,
  });
  // With exemplars enabled, prom-client takes only the object form.
  NASTY.forEach((v, i) =>
    exemplars ? items.inc({ labels: { item: v }, value: i + 0.5 }) : items.inc({ item: v }, i + 0.5),
  );
  if (exemplars) items.inc({ labels: { item: 'x' }, value: 2, exemplarLabels: { span: 's"1' } as never });
  new Counter({ name: 'plain_no_labels_total', help: 'h', registers: [registry] }).inc(3);
  const temperature = new Gauge({
    name: 'plain_temperature',
    help: 'A gauge',
    labelNames: ['room'],
    registers: [registry],
  });
  temperature.set({ room: NASTY[3] }, -1.5);
  temperature.set({ room: 'nan' }, NaN);
  temperature.set({ room: 'inf' }, Infinity);
  temperature.set({ room: 'minus_inf' }, -Infinity);
  new Gauge({
    name: 'plain_collected',
    help: 'A gauge with a collect callback',
    registers: [registry],
    collect() {
      this.set(42);
    },
  });
  const sizes = new Histogram({
    name: 'plain_size_bytes',
    help: 'A prom-client histogram',
    labelNames: ['route'],
    buckets: [10, 100],
    registers: [registry],
    enableExemplars: exemplars,
  });
  if (exemplars) {
    sizes.observe({ labels: { route: NASTY[0] }, value: 50 });
    sizes.observe({ labels: { route: '/b' }, value: 500 });
  } else {
    sizes.observe({ route: NASTY[0] }, 50);
    sizes.observe({ route: '/b' }, 500);
  }
  if (exemplars) sizes.observe({ labels: { route: '/b' }, value: 5, exemplarLabels: { trace_id: 'h1' } as never });
  const latency = new Summary({
    name: 'plain_latency_seconds',
    help: 'A prom-client summary',
    labelNames: ['route'],
    percentiles: [0.5, 0.99],
    registers: [registry],
  });
  latency.observe({ route: NASTY[4] }, 1);
  latency.observe({ route: NASTY[4] }, 2);
  return registry;
}

async function render(registry: Registry<ContentType>, format: ExpositionFormat, names?: string[]): Promise<string[]> {
  const slices: string[] = [];
  await renderExposition(registry, format, names, slice => slices.push(slice));
  return slices;
}

describe('renderExposition: the bytes prom-client gives', () => {
  it('text: every metric type, escaping-heavy label values', async () => {
    const ours = (await render(build(Registry.PROMETHEUS_CONTENT_TYPE), 'text')).join('');
    const theirs = await build(Registry.PROMETHEUS_CONTENT_TYPE).metrics();
    expect(ours).toBe(theirs);
    // And it is a valid exposition holding the escaped values as they were recorded.
    const parsed = parseExposition(ours);
    expect(parsed.samples.find(s => s.name === 'ours_calls_total' && s.labels.route === NASTY[4])?.value).toBe(5);
  });

  it('OpenMetrics: counters without _total in the family name, exemplars', async () => {
    const ours = (await render(build(Registry.OPENMETRICS_CONTENT_TYPE), 'openmetrics')).join('');
    const theirs = await build(Registry.OPENMETRICS_CONTENT_TYPE).metrics();
    expect(ours).toBe(theirs);
    expect(ours).toContain('# TYPE ours_calls counter');
    expect(ours).toContain(' # {trace_id="t1"} 0.3 ');
    parseExposition(ours, 'openmetrics');
  });

  it('does not rename the registry’s counters (prom-client’s OpenMetrics rendering does)', async () => {
    const registry = build(Registry.PROMETHEUS_CONTENT_TYPE);
    await render(registry, 'openmetrics');
    expect(registry.getSingleMetric('plain_items_total')).toBeDefined();
    expect((await render(registry, 'text')).join('')).toBe(await build(Registry.PROMETHEUS_CONTENT_TYPE).metrics());
  });

  it('default labels, in text and OpenMetrics', async () => {
    const defaults = { app: 'shop"1', route: 'overridden-by-series' };
    for (const [type, format] of [
      [Registry.PROMETHEUS_CONTENT_TYPE, 'text'],
      [Registry.OPENMETRICS_CONTENT_TYPE, 'openmetrics'],
    ] as const) {
      const ours = (await render(build(type, defaults), format)).join('');
      expect(ours).toBe(await build(type, defaults).metrics());
      expect(ours).toContain('app="shop\\"1"');
    }
  });

  it('?name[]= renders only the families named, as prom-client renders a registry of those alone', async () => {
    const names = ['ours_duration_seconds', 'plain_items_total', 'plain_latency_seconds', 'no_such_metric'];
    const ours = (await render(build(Registry.PROMETHEUS_CONTENT_TYPE), 'text', names)).join('');
    const full = build(Registry.PROMETHEUS_CONTENT_TYPE);
    const only = new Registry();
    for (const name of names) {
      const metric = full.getSingleMetric(name);
      if (metric) only.registerMetric(metric);
    }
    expect(ours).toBe(await only.metrics());
    expect(parseExposition(ours).families.size).toBe(3);
  });

  it('an empty registry', async () => {
    expect((await render(new Registry(), 'text')).join('')).toBe(await new Registry().metrics());
    const om = new (Registry as new (t: ContentType) => Registry<ContentType>)(Registry.OPENMETRICS_CONTENT_TYPE);
    expect((await render(om, 'openmetrics')).join('')).toBe(await om.metrics());
  });
});

describe('renderExposition: slices', () => {
  it('yields to the event loop inside one large family, and the slices join to the whole', async () => {
    const registry = new Registry();
    const big = new CounterFamily('big_total', 'Many series', ['id']);
    registerCollectableMetric(registry, big);
    for (let i = 0; i < 30_000; i++) big.child([`id-${i}`]).inc();
    let turns = 0;
    const ticker = setInterval(() => turns++, 0);
    const slices = await render(registry, 'text');
    clearInterval(ticker);
    expect(slices.length).toBeGreaterThan(1);
    expect(turns).toBeGreaterThan(0);
    expect(slices.join('')).toBe(await registry.metrics());
  });

  it('the same for a plain prom-client metric', async () => {
    const registry = new Registry();
    const big = new Counter({ name: 'plain_big_total', help: 'h', labelNames: ['id'], registers: [registry] });
    for (let i = 0; i < 30_000; i++) big.inc({ id: `id-${i}` });
    const slices = await render(registry, 'text');
    expect(slices.length).toBeGreaterThan(1);
    expect(slices.join('')).toBe(await registry.metrics());
  });

  it('a plain counter whose series map has another shape (another prom-client version): read with get(), one warning', async () => {
    const registry = new Registry();
    const changed = new Counter({ name: 'changed_total', help: 'h', labelNames: ['id'], registers: [registry] });
    changed.inc({ id: 'a' }, 2);
    // What a prom-client that kept its series in a Map would hand out through get().
    (changed as unknown as { hashMap: unknown }).hashMap = new Map([['id:a,', { value: 2, labels: { id: 'a' } }]]);
    changed.get = () =>
      Promise.resolve({
        name: 'changed_total',
        help: 'h',
        type: 'counter',
        aggregator: 'sum',
        values: [{ value: 2, labels: { id: 'a' } }],
      } as never);
    const warnings: string[] = [];
    // eslint-disable-next-line @typescript-eslint/unbound-method -- put back on the prototype below
    const original = Logger.prototype.warn;
    Logger.prototype.warn = function capture(message: unknown) {
      warnings.push(String(message));
    };
    try {
      const first = (await render(registry, 'text')).join('');
      const second = (await render(registry, 'text')).join('');
      expect(first).toBe(await registry.metrics());
      expect(second).toBe(first);
      expect(first).toContain('changed_total{id="a"} 2');
    } finally {
      Logger.prototype.warn = original;
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('changed_total');
    expect(warnings[0]).toContain('get()');
  });
});
