/**
 * The observability kit (observability/): the Prometheus rules and their promtool unit tests,
 * and the Grafana dashboard, checked with promtool and against a real Prometheus scraping the
 * sample app (its own process).
 *
 * NODE_OPTIONS=--experimental-vm-modules npx jest -c jest.integration.config.js test/integration/observability.int-spec.ts
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promtool, startPrometheus, startSampleApp } from './harness.js';
import { NATIVE_ROW_TITLE } from './native-dashboard.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const KIT = join(ROOT, 'observability');
const RULES = join(KIT, 'prometheus-rules.yml');
const TESTS_DIR = join(KIT, 'tests');
const DASHBOARD = join(KIT, 'grafana-dashboard.json');

type Prometheus = Awaited<ReturnType<typeof startPrometheus>>;
type SampleApp = Awaited<ReturnType<typeof startSampleApp>>;

// ---------------------------------------------------------------------------------------------
// The dashboard's shape (the parts this suite reads)

interface Target {
  expr?: string;
  refId?: string;
  legendFormat?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id?: number;
  type?: string;
  title?: string;
  gridPos?: { x?: number; y?: number; w?: number; h?: number };
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
  collapsed?: boolean;
}
interface Variable {
  name: string;
  type: string;
  query?: string | { query?: string };
  definition?: string;
  datasource?: { type?: string; uid?: string };
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string;
  current?: { value?: string | string[] };
}
interface Dashboard {
  schemaVersion: number;
  uid?: string;
  title?: string;
  panels: Panel[];
  templating: { list: Variable[] };
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
/** Rows, and the panels inside collapsed rows, flattened. */
const allPanels: Panel[] = dashboard.panels.flatMap(p => [p, ...(p.panels ?? [])]);
const queryPanels = allPanels.filter(p => p.type !== 'row');
const panelTargets = queryPanels.flatMap(p =>
  (p.targets ?? []).map(t => ({ panel: p, target: t, expr: t.expr ?? '' })),
);
/**
 * The panels of the native-histogram row: they query native series, which the classic sample app
 * (and a Prometheus without native histograms) does not have. The tests against a real Prometheus
 * below leave them out; native-histograms.int-spec.ts checks them against native series.
 */
const nativePanels = new Set(
  dashboard.panels.filter(p => p.type === 'row' && p.title === NATIVE_ROW_TITLE).flatMap(p => p.panels ?? []),
);
const classicTargets = panelTargets.filter(t => !nativePanels.has(t.panel));
const variables = dashboard.templating.list;
const variableQuery = (v: Variable): string => (typeof v.query === 'string' ? v.query : (v.query?.query ?? ''));

/** Grafana's own variables, always defined. */
const BUILTIN_VARIABLES = new Set([
  '__rate_interval',
  '__interval',
  '__interval_ms',
  '__range',
  '__range_s',
  '__range_ms',
  '__from',
  '__to',
  '__dashboard',
  '__org',
  '__user',
]);
/** $name, ${name}, ${name:format}, [[name]]. Digits-only names are regex group references (label_replace's "${1}"). */
const VARIABLE_REF = /\$\{(\w+)(?:[:.][^}]*)?\}|\$(\w+)|\[\[(\w+)(?::\w+)?\]\]/g;

function variablesIn(text: string): string[] {
  return [...text.matchAll(VARIABLE_REF)].map(m => m[1] ?? m[2] ?? m[3]).filter(name => !/^\d+$/.test(name));
}

/** Replaces every dashboard variable in `text` with its value in `values`; throws on a variable without a value. */
function substitute(text: string, values: Record<string, string>): string {
  return text.replace(VARIABLE_REF, (whole, a?: string, b?: string, c?: string) => {
    const name = (a ?? b ?? c) as string;
    if (/^\d+$/.test(name)) return whole;
    if (!(name in values)) throw new Error(`no value for $${name} in ${text}`);
    return values[name];
  });
}

/** Grafana's escaping of a variable value inside a Prometheus regex matcher (a PromQL string). */
function grafanaRegexEscape(value: string): string {
  return value.replace(/\\/g, '\\\\\\\\').replace(/[$^*{}[\]'+?.()|]/g, '\\\\$&');
}

/** What Grafana puts in place of a multi-value variable: (a|b), each value escaped. */
function multiValue(values: string[]): string {
  return values.length === 1 ? grafanaRegexEscape(values[0]) : `(${values.map(grafanaRegexEscape).join('|')})`;
}

// ---------------------------------------------------------------------------------------------
// Rules files and promtool

/** record/alert entries of a rules file (the file is YAML; one rule per `- record:`/`- alert:` line). */
function ruleNames(text: string): { records: string[]; alerts: string[] } {
  return {
    records: [...text.matchAll(/^\s*- record:\s*(\S+)\s*$/gm)].map(m => m[1]),
    alerts: [...text.matchAll(/^\s*- alert:\s*(\S+)\s*$/gm)].map(m => m[1]),
  };
}

function testFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter(f => f.endsWith('.yml') || f.endsWith('.yaml'))
    .sort()
    .map(f => join(dir, f));
}

/** A rules file with one recording rule per expression, for `promtool check rules` to parse. */
function rulesFileFor(exprs: Array<{ record: string; expr: string }>): string {
  const lines = ['groups:', '  - name: check', '    rules:'];
  for (const { record, expr } of exprs) {
    lines.push(`      - record: ${record}`, `        expr: ${JSON.stringify(expr)}`);
  }
  return lines.join('\n') + '\n';
}

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'observability-int-'));
});
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

/** Runs `promtool check rules` on a rules text (written to the scratch directory). */
function checkRulesText(name: string, text: string): { code: number; stdout: string; stderr: string } {
  const file = join(scratch, `${name}.yml`);
  writeFileSync(file, text);
  return promtool(['check', 'rules', '--lint=all', file]);
}

// ---------------------------------------------------------------------------------------------

describe('observability/prometheus-rules.yml', () => {
  const text = readFileSync(RULES, 'utf8');
  const { records, alerts } = ruleNames(text);

  it('passes `promtool check rules` (all lints) with exit 0 and no warning', () => {
    expect(records.length).toBeGreaterThan(0);
    const r = promtool(['check', 'rules', '--lint=all', RULES]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    // Every rule of the file was read.
    expect(r.stdout).toContain(`SUCCESS: ${records.length + alerts.length} rules found`);
    expect(r.stdout).not.toMatch(/warn|lint|FAILED/i);
  });

  it('a rules file with a lint warning is reported on stderr (so the check above can fail)', () => {
    const duplicated = text.replace(
      /^(\s*)- record: job_route:http_requests:rate5m\n(\s*)expr: (.*)$/m,
      (whole, indent: string, exprIndent: string, expr: string) =>
        `${whole}\n${indent}- record: job_route:http_requests:rate5m\n${exprIndent}expr: ${expr}`,
    );
    expect(duplicated).not.toBe(text);
    const r = checkRulesText('duplicated', duplicated);
    expect(r.stderr).toMatch(/duplicate rule/);
  });

  it('names the recording rules level:metric:operations and the alerts in CamelCase', () => {
    for (const record of records) expect(record).toMatch(/^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$/);
    for (const alert of alerts) expect(alert).toMatch(/^[A-Z][A-Za-z0-9]+$/);
    expect(records).toEqual(
      expect.arrayContaining([
        'job_route:http_requests:rate5m',
        'job_route:http_requests_5xx_per_requests:ratio_rate5m',
        'job_route:http_request_duration_seconds:p50_rate5m',
        'job_route:http_request_duration_seconds:p90_rate5m',
        'job_route:http_request_duration_seconds:p99_rate5m',
      ]),
    );
    expect(alerts.sort()).toEqual(['NestjsHttpHighErrorRatio', 'NestjsHttpHighLatencyP99', 'NestjsTargetDown']);
  });

  it('gives every alert a for:, a severity and summary/description/runbook annotations', () => {
    const blocks = text.split(/^\s*- alert:/m).slice(1);
    expect(blocks).toHaveLength(alerts.length);
    for (const block of blocks) {
      const name = block.trim().split(/\s/)[0];
      expect({ name, for: /^\s*for: \d+[smh]\s*$/m.test(block) }).toEqual({ name, for: true });
      expect({ name, severity: /^\s*severity: (critical|warning|info)\s*$/m.exec(block)?.[1] !== undefined }).toEqual({
        name,
        severity: true,
      });
      for (const annotation of ['summary', 'description', 'runbook']) {
        expect({ name, annotation, present: new RegExp(`^\\s*${annotation}: `, 'm').test(block) }).toEqual({
          name,
          annotation,
          present: true,
        });
      }
    }
  });
});

describe('observability/tests (promtool test rules)', () => {
  const files = testFiles(TESTS_DIR);

  it('every alert and every recording rule is covered by a unit test', () => {
    const { records, alerts } = ruleNames(readFileSync(RULES, 'utf8'));
    const tests = files.map(f => readFileSync(f, 'utf8')).join('\n');
    for (const alert of alerts) {
      // Fires somewhere (exp_alerts with labels) and is expected quiet somewhere (exp_alerts: []).
      const cases = [
        ...tests.matchAll(new RegExp(`alertname: ${alert}\\n\\s*eval_time: \\S+\\n\\s*exp_alerts:(.*)`, 'g')),
      ].map(m => m[1].trim());
      expect({ alert, fires: cases.some(c => c === ''), quiet: cases.some(c => c === '[]') }).toEqual({
        alert,
        fires: true,
        quiet: true,
      });
    }
    for (const record of records)
      expect({ record, tested: tests.includes(`expr: ${record}`) }).toEqual({ record, tested: true });
  });

  it('pass: `promtool test rules observability/tests/*.yml` exits 0', () => {
    expect(files.length).toBeGreaterThanOrEqual(2);
    const r = promtool(['test', 'rules', ...files]);
    expect({ code: r.code, output: r.stdout + r.stderr }).toEqual({
      code: 0,
      output: expect.not.stringMatching(/FAILED/),
    });
    expect(r.stdout.match(/SUCCESS/g)).toHaveLength(files.length);
  });

  describe('fail when a test or a rule is broken (copies in a temporary directory)', () => {
    let copy: string;
    beforeAll(() => {
      // Same layout as observability/, so that rule_files: ../prometheus-rules.yml still resolves.
      copy = join(scratch, 'kit');
      mkdirSync(copy);
      cpSync(RULES, join(copy, 'prometheus-rules.yml'));
      cpSync(TESTS_DIR, join(copy, 'tests'), { recursive: true });
    });

    function runWith(
      file: 'prometheus-rules.yml' | `tests/${string}`,
      from: string | RegExp,
      to: string,
    ): { code: number; output: string } {
      const path = join(copy, file);
      const original = readFileSync(path, 'utf8');
      const broken = original.replace(from, to);
      if (broken === original)
        throw new Error(`${String(from)} not found in ${file}: the mutation would change nothing`);
      writeFileSync(path, broken);
      try {
        const r = promtool(['test', 'rules', ...testFiles(join(copy, 'tests'))]);
        return { code: r.code, output: r.stdout + r.stderr };
      } finally {
        writeFileSync(path, original);
      }
    }

    it('the unchanged copy passes (control)', () => {
      expect(promtool(['test', 'rules', ...testFiles(join(copy, 'tests'))]).code).toBe(0);
    });

    it('a wrong expected value of a recording rule', () => {
      const r = runWith(
        'tests/recording-rules.test.yml',
        'ratio_rate5m{job="api",route="/users/:id"}\'\n            value: 0.125',
        'ratio_rate5m{job="api",route="/users/:id"}\'\n            value: 0.126',
      );
      expect(r.code).not.toBe(0);
      expect(r.output).toMatch(/FAILED[\s\S]*job_route:http_requests_5xx_per_requests:ratio_rate5m/);
    });

    it('a route expected quiet that fires (the 4 % route raised to 40 % errors)', () => {
      const r = runWith(
        'tests/alerts.test.yml',
        "status_code=\"500\"}'\n        values: '0+24x40'",
        "status_code=\"500\"}'\n        values: '0+240x40'",
      );
      expect(r.code).not.toBe(0);
      expect(r.output).toMatch(/alertname: NestjsHttpHighErrorRatio[\s\S]*route="\/users\/:id"/);
    });

    it('an error-ratio threshold of 50 % instead of 5 %', () => {
      const r = runWith('prometheus-rules.yml', 'ratio_rate5m > 0.05', 'ratio_rate5m > 0.5');
      expect(r.code).not.toBe(0);
      expect(r.output).toMatch(/alertname: NestjsHttpHighErrorRatio/);
    });

    it('an error alert without its for: 5m (fires while it should be pending)', () => {
      const r = runWith('prometheus-rules.yml', /(- alert: NestjsHttpHighErrorRatio[\s\S]*?)for: 5m/, '$1for: 0m');
      expect(r.code).not.toBe(0);
      expect(r.output).toMatch(/alertname: NestjsHttpHighErrorRatio, time: 5m/);
    });

    it('a latency alert without its traffic floor (fires on the rare slow route)', () => {
      const r = runWith(
        'prometheus-rules.yml',
        /(p99_rate5m > 1)\n\s*and\n\s*job_route:http_requests:rate5m >= 0.1/,
        '$1',
      );
      expect(r.code).not.toBe(0);
      expect(r.output).toMatch(/alertname: NestjsHttpHighLatencyP99[\s\S]*route="\/rare"/);
    });

    it('the http.prefix recipe of observability/README.md (sed s/\\bhttp_/myapp_http_/g) keeps rules and tests passing', () => {
      const dir = join(scratch, 'prefixed');
      mkdirSync(join(dir, 'tests'), { recursive: true });
      const rename = (text: string): string => text.replace(/\bhttp_/g, 'myapp_http_');
      const rules = rename(readFileSync(RULES, 'utf8'));
      expect(rules).not.toMatch(/\bhttp_/);
      writeFileSync(join(dir, 'prometheus-rules.yml'), rules);
      for (const f of files)
        writeFileSync(join(dir, 'tests', f.slice(TESTS_DIR.length + 1)), rename(readFileSync(f, 'utf8')));
      const r = promtool(['test', 'rules', ...testFiles(join(dir, 'tests'))]);
      expect({ code: r.code, output: r.stdout + r.stderr }).toEqual({
        code: 0,
        output: expect.not.stringMatching(/FAILED/),
      });
    });

    it('a target-down alert on up == 1', () => {
      const r = runWith('prometheus-rules.yml', 'expr: up == 0', 'expr: up == 1');
      expect(r.code).not.toBe(0);
      expect(r.output).toMatch(/alertname: NestjsTargetDown/);
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe('observability/grafana-dashboard.json: structure', () => {
  const definedVariables = new Set(variables.map(v => v.name));
  const isVariableDatasource = (ds: { type?: string; uid?: string } | undefined): boolean =>
    ds !== undefined && (ds.uid === '${datasource}' || ds.uid === '$datasource');

  it('is a dashboard of a recent schema with a uid and a title', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.uid).toMatch(/^[\w-]{1,40}$/);
    expect(dashboard.title).toBeTruthy();
  });

  it('defines the variables datasource, prefix, job, instance and route', () => {
    const byName = Object.fromEntries(variables.map(v => [v.name, v]));
    expect(byName.datasource).toMatchObject({ type: 'datasource', query: 'prometheus' });
    expect(['textbox', 'constant']).toContain(byName.prefix?.type);
    expect(variableQuery(byName.prefix)).toBe('');
    for (const name of ['job', 'instance', 'route']) {
      const v = byName[name];
      expect({ name, type: v?.type, ds: isVariableDatasource(v?.datasource) }).toEqual({
        name,
        type: 'query',
        ds: true,
      });
      expect(variableQuery(v)).toMatch(new RegExp(`^label_values\\(\\$\\{prefix\\}http_requests_total.*, ${name}\\)$`));
    }
    expect(byName.route).toMatchObject({ multi: true, includeAll: true, allValue: '.*' });
    expect(variables.map(v => v.name)).toHaveLength(new Set(variables.map(v => v.name)).size);
  });

  it('gives every panel a unique id and a gridPos inside the 24 columns, without overlaps', () => {
    const ids = allPanels.map(p => p.id);
    for (const p of allPanels) expect({ title: p.title, id: typeof p.id }).toEqual({ title: p.title, id: 'number' });
    expect(new Set(ids).size).toBe(ids.length);
    const boxes = allPanels.map(p => {
      const g = p.gridPos ?? {};
      const ok =
        [g.x, g.y, g.w, g.h].every(n => Number.isInteger(n) && (n as number) >= 0) &&
        (g.w as number) > 0 &&
        (g.h as number) > 0;
      expect({ title: p.title, gridPos: ok && (g.x as number) + (g.w as number) <= 24 }).toEqual({
        title: p.title,
        gridPos: true,
      });
      return { title: p.title, x: g.x as number, y: g.y as number, w: g.w as number, h: g.h as number };
    });
    const overlaps = boxes.flatMap((a, i) =>
      boxes
        .slice(i + 1)
        .filter(b => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h)
        .map(b => `${a.title} / ${b.title}`),
    );
    expect(overlaps).toEqual([]);
  });

  it('gives every panel (rows aside) the ${datasource} variable and at least one target with an expr', () => {
    expect(queryPanels.length).toBeGreaterThanOrEqual(15);
    for (const p of queryPanels) {
      const targets = p.targets ?? [];
      expect({
        title: p.title,
        datasource: isVariableDatasource(p.datasource),
        targets: targets.length > 0,
        exprs: targets.every(t => typeof t.expr === 'string' && t.expr.trim() !== ''),
        targetDatasources: targets.every(t => t.datasource === undefined || isVariableDatasource(t.datasource)),
        uniqueRefIds: new Set(targets.map(t => t.refId)).size === targets.length,
      }).toEqual({
        title: p.title,
        datasource: true,
        targets: true,
        exprs: true,
        targetDatasources: true,
        uniqueRefIds: true,
      });
    }
    for (const row of allPanels.filter(p => p.type === 'row'))
      expect({ row: row.title, targets: row.targets ?? [] }).toEqual({ row: row.title, targets: [] });
  });

  it('uses only defined variables (in panel expressions and in variable queries)', () => {
    const used = [
      ...panelTargets.map(t => ({ where: t.panel.title, text: t.expr })),
      ...variables.map(v => ({ where: `$${v.name}`, text: variableQuery(v) })),
    ];
    const undefinedOnes = used.flatMap(u =>
      variablesIn(u.text)
        .filter(n => !definedVariables.has(n) && !BUILTIN_VARIABLES.has(n))
        .map(n => `${u.where}: $${n}`),
    );
    expect(undefinedOnes).toEqual([]);
    // ... and the filters are used: an unused variable would be a dropdown that changes nothing.
    const allExprs = panelTargets.map(t => t.expr).join('\n');
    for (const name of ['prefix', 'job', 'instance', 'route']) expect(variablesIn(allExprs)).toContain(name);
  });

  it('puts ${prefix} before every HTTP metric, filters every expression by job and instance, and windows every range with $__rate_interval', () => {
    for (const { panel, expr } of panelTargets) {
      const unprefixed = [...expr.matchAll(/(\$\{prefix\})?\b(http_[a-z_]+)/g)].filter(m => !m[1]).map(m => m[2]);
      const selectors = [...expr.matchAll(/([a-zA-Z_:][\w:]*)\{([^}]*)\}/g)];
      const unfiltered = selectors
        .filter(m => !/job=~"\$job"/.test(m[2]) || !/instance=~"\$instance"/.test(m[2]))
        .map(m => m[0]);
      const routeUnfiltered = selectors
        .filter(m => /http_/.test(m[1]) && !/route=~"\$route"/.test(m[2]))
        .map(m => m[0]);
      // Range selectors only (a [...] after a selector), not the character classes of label_replace's regex.
      const ranges = [...expr.matchAll(/[\w}]\[([^\]]+)\]/g)].map(m => m[1]).filter(r => r !== '$__rate_interval');
      expect({
        title: panel.title,
        unprefixed,
        unfiltered,
        routeUnfiltered,
        ranges,
        selectors: selectors.length > 0,
      }).toEqual({
        title: panel.title,
        unprefixed: [],
        unfiltered: [],
        routeUnfiltered: [],
        ranges: [],
        selectors: true,
      });
    }
  });

  it('covers the default metrics of the library (the HTTP names in lib/http/http.options.ts)', () => {
    const source = readFileSync(join(ROOT, 'lib', 'http', 'http.options.ts'), 'utf8');
    const table = /const HTTP_METRIC_NAMES[^{]*\{([^}]*)\}/.exec(source)?.[1] ?? '';
    const libNames = [...table.matchAll(/'(http_[a-z_]+)'/g)].map(m => m[1]);
    expect(libNames.length).toBeGreaterThanOrEqual(6);
    const used = new Set(
      [
        ...panelTargets
          .map(t => t.expr)
          .join('\n')
          .matchAll(/\$\{prefix\}(http_[a-z_]+)/g),
      ].map(m => m[1]),
    );
    for (const name of libNames) {
      const forms = [name, `${name}_bucket`, `${name}_sum`, `${name}_count`];
      expect({ name, used: forms.some(f => used.has(f)) }).toEqual({ name, used: true });
    }
    for (const name of used) {
      const base = name.replace(/_(bucket|sum|count)$/, '');
      expect({ name, inLib: libNames.includes(name) || libNames.includes(base) }).toEqual({ name, inLib: true });
    }
    const allExprs = panelTargets.map(t => t.expr).join('\n');
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_eventloop_lag_p99_seconds',
    ]) {
      expect(allExprs).toContain(name);
    }
  });
});

describe('observability/grafana-dashboard.json: the native-histogram row', () => {
  it('is a collapsed row whose panels read only the native series (no _bucket, _sum or _count), and only they do', () => {
    const row = dashboard.panels.find(p => p.type === 'row' && p.title === NATIVE_ROW_TITLE);
    expect(row?.collapsed).toBe(true);
    expect(nativePanels.size).toBeGreaterThanOrEqual(3);
    const native = panelTargets.filter(t => nativePanels.has(t.panel));
    const nativeSeries = /\$\{prefix\}http_request_duration_seconds\{/;
    for (const { panel, expr } of native) {
      expect({
        panel: panel.title,
        native: nativeSeries.test(expr),
        classic: /_bucket|_sum\{|_count\{/.test(expr),
      }).toEqual({ panel: panel.title, native: true, classic: false });
    }
    // The p50/p90/p99 of the Latency row each have a native twin.
    for (const q of ['0.5', '0.9', '0.99'])
      expect(native.some(t => t.expr.startsWith(`histogram_quantile(${q}, sum by (route) (`))).toBe(true);
    // Left out of the tests against the classic app: so no classic panel may read a native series.
    for (const { panel, expr } of classicTargets)
      expect({ panel: panel.title, native: nativeSeries.test(expr) }).toEqual({ panel: panel.title, native: false });
  });
});

describe('observability/grafana-dashboard.json: every expression parses (promtool check rules)', () => {
  const cases: Array<[string, Record<string, string>]> = [
    ['All selected, no prefix', { prefix: '', job: '.*', instance: '.*', route: '.*', __rate_interval: '1m' }],
    [
      'http.prefix myapp_, several routes picked (wildcard route escaped as Grafana does)',
      {
        prefix: 'myapp_',
        job: multiValue(['orders-api']),
        instance: multiValue(['10.0.0.1:3000', '10.0.0.2:3000']),
        route: multiValue(['/api/v1/users/:id', '/files/*', '__unmatched__']),
        __rate_interval: '2m15s',
      },
    ],
  ];

  it.each(cases)('%s', (_label, values) => {
    const failures: string[] = [];
    for (const p of queryPanels) {
      const exprs = (p.targets ?? []).map(t => ({
        record: `dashboard:panel_${p.id}:${t.refId ?? 'A'}`,
        expr: substitute(t.expr ?? '', values),
      }));
      const r = checkRulesText(`panel-${p.id}`, rulesFileFor(exprs));
      if (r.code !== 0)
        failures.push(`panel "${p.title}" (id ${p.id}):\n${r.stdout}${r.stderr}\n${exprs.map(e => e.expr).join('\n')}`);
    }
    expect(failures).toEqual([]);
  });

  it('the selectors of the variable queries parse too', () => {
    const values = { prefix: '', job: '.*', instance: '.*' };
    const exprs = variables
      .filter(v => v.type === 'query')
      .map(v => {
        const m = /^label_values\((.*),\s*(\w+)\)$/.exec(variableQuery(v));
        if (!m) throw new Error(`$${v.name}: not a label_values(selector, label) query: ${variableQuery(v)}`);
        return { record: `dashboard:variable:${v.name}`, expr: substitute(m[1], values) };
      });
    const r = checkRulesText('variables', rulesFileFor(exprs));
    expect({ code: r.code, output: r.stdout + r.stderr }).toEqual({
      code: 0,
      output: expect.stringContaining(`SUCCESS: ${exprs.length} rules found`),
    });
  });

  it('a broken expression is reported (so the checks above can fail)', () => {
    const r = checkRulesText(
      'broken',
      rulesFileFor([
        { record: 'dashboard:panel_0:A', expr: 'sum by (route) (rate(http_requests_total{route=~".*"}[1m])' },
      ]),
    );
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/parse error|unclosed|could not parse/i);
  });
});

// ---------------------------------------------------------------------------------------------

const ORDER_HEADERS = { 'content-type': 'application/json', 'x-api-key': 'sample' };

/** One round of traffic over every kind of response the sample app gives. */
async function traffic(app: SampleApp): Promise<void> {
  const call = async (
    method: string,
    path: string,
    status: number,
    headers?: Record<string, string>,
    body?: unknown,
  ): Promise<void> => {
    const res = await fetch(app.url + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    await res.arrayBuffer();
    if (res.status !== status) throw new Error(`${method} ${path}: expected ${status}, got ${res.status}`);
  };
  for (let i = 0; i < 3; i++) {
    await call('GET', '/api/v1/users', 200);
    await call('GET', '/api/v1/users/1', 200);
    await call('GET', '/api/v1/users/abc', 400);
    await call('GET', '/api/v1/users/99', 404);
    await call('POST', '/api/v1/users', 201, { 'content-type': 'application/json' }, { name: 'Linus' });
    await call('POST', '/api/v1/orders', 201, ORDER_HEADERS, { amount: 10 });
    // Amounts over 1000: PaymentDeclinedError, an unhandled error (500, http_exceptions_total).
    await call('POST', '/api/v1/orders', 500, ORDER_HEADERS, { amount: 5000 });
    await call('POST', '/api/v1/orders', 401, { 'content-type': 'application/json' }, { amount: 10 });
    await call('GET', '/api/v1/no-such-route', 404);
  }
}

/** Metric name → label names, from a text exposition. */
function exposedLabels(text: string): Map<string, Set<string>> {
  const metrics = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? /.exec(line);
    if (!m) throw new Error(`unexpected exposition line: ${line}`);
    const labels = metrics.get(m[1]) ?? new Set<string>();
    for (const l of (m[2] ?? '').matchAll(/(\w+)="/g)) labels.add(l[1]);
    metrics.set(m[1], labels);
  }
  return metrics;
}

interface RulesApi {
  status: string;
  data: {
    groups: Array<{
      name: string;
      file: string;
      rules: Array<{
        name: string;
        type: 'recording' | 'alerting';
        health: string;
        lastError?: string;
        lastEvaluation: string;
      }>;
    }>;
  };
}

describe.each(['express', 'fastify'] as const)(
  'the dashboard and the rules against a real Prometheus scraping the sample app on %s',
  adapter => {
    const JOB = 'nestjs-sample';
    let app: SampleApp;
    let prom: Prometheus;
    let instance: string;
    let exposition: string;
    /** Grafana's values of the variables: this job and instance, all routes. */
    let values: Record<string, string>;

    beforeAll(async () => {
      app = await startSampleApp({ adapter });
      prom = await startPrometheus({ targets: [app.url], jobName: JOB, scrapeIntervalSeconds: 1, ruleFiles: [RULES] });
      instance = app.url.replace(/^http:\/\//, '');
      // Two rounds of the same traffic with scrapes between and after: every counter has grown
      // inside the query window, so rates are > 0 and quantiles are numbers, not NaN.
      await traffic(app);
      await prom.waitForScrapes(2);
      await traffic(app);
      await prom.waitForScrapes(2);
      exposition = await (await fetch(`${app.url}/metrics`)).text();
      // What Grafana sends with one job and one instance picked and route = All ($__rate_interval
      // with a 1 s scrape interval would be 4 s; 1 m keeps both rounds in the window on a slow machine).
      values = {
        prefix: '',
        job: multiValue([JOB]),
        instance: multiValue([instance]),
        route: '.*',
        __rate_interval: '1m',
      };
    }, 300000);

    afterAll(async () => {
      await prom?.stop();
      await app?.close();
    });

    it('uses only metric and label names that the sample app really exposes', () => {
      const exposed = exposedLabels(exposition);
      const targetLabels = ['job', 'instance'];
      const problems: string[] = [];
      for (const { panel, expr } of classicTargets) {
        const concrete = substitute(expr, values);
        const selected = [...concrete.matchAll(/([a-zA-Z_:][\w:]*)\{([^}]*)\}/g)];
        const labelsOfExpr = new Set<string>(targetLabels);
        for (const [, name, matchers] of selected) {
          const labels = exposed.get(name);
          if (!labels) {
            problems.push(`${panel.title}: ${name} is not exposed`);
            continue;
          }
          labels.forEach(l => labelsOfExpr.add(l));
          for (const [, label] of matchers.matchAll(/(\w+)\s*(?:=~|!~|!=|=)\s*"/g)) {
            if (!labels.has(label) && !targetLabels.includes(label))
              problems.push(`${panel.title}: ${name} has no label ${label}`);
          }
        }
        for (const m of concrete.matchAll(/label_replace\([\s\S]*?,\s*"(\w+)"/g)) labelsOfExpr.add(m[1]);
        for (const m of concrete.matchAll(/\bby\s*\(([^)]*)\)/g)) {
          for (const label of m[1]
            .split(',')
            .map(s => s.trim())
            .filter(Boolean)) {
            if (!labelsOfExpr.has(label))
              problems.push(`${panel.title}: groups by ${label}, which its metrics do not have`);
          }
        }
      }
      expect(problems).toEqual([]);
    });

    it('every variable query finds values (job, instance, route)', async () => {
      for (const v of variables.filter(x => x.type === 'query')) {
        const m = /^label_values\((.*),\s*(\w+)\)$/.exec(variableQuery(v));
        expect(m).not.toBeNull();
        const [, selector, label] = m as RegExpExecArray;
        const found = (
          await prom.query(
            `group by (${label}) (${substitute(selector, { prefix: '', job: multiValue([JOB]), instance: multiValue([instance]) })})`,
          )
        ).map(r => r.metric[label]);
        const expected = {
          job: [JOB],
          instance: [instance],
          route: ['/api/v1/orders', '/api/v1/users', '/api/v1/users/:id', '__unmatched__'],
        }[v.name];
        expect({ variable: v.name, found: found.sort() }).toEqual({ variable: v.name, found: expected });
      }
    });

    it('every panel expression (the native row aside) returns data: at least one series, every value a finite number, every legend label present', async () => {
      const problems: string[] = [];
      for (const { panel, target, expr } of classicTargets) {
        const concrete = substitute(expr, values);
        const result = await prom.query(concrete);
        const legendLabels = [...(target.legendFormat ?? '').matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map(m => m[1]);
        if (result.length === 0) problems.push(`${panel.title} [${target.refId}]: no data for ${concrete}`);
        for (const r of result) {
          if (!Number.isFinite(Number(r.value[1])))
            problems.push(`${panel.title} [${target.refId}]: ${JSON.stringify(r.metric)} = ${r.value[1]}`);
          for (const l of legendLabels)
            if (!r.metric[l])
              problems.push(
                `${panel.title} [${target.refId}]: legend label ${l} missing in ${JSON.stringify(r.metric)}`,
              );
        }
      }
      expect(problems).toEqual([]);
    });

    it('the panels show the right things: status classes, 5xx ratio per route, the exception class', async () => {
      const byTitle = (title: string): string => {
        const t = panelTargets.find(x => x.panel.title === title);
        if (!t) throw new Error(`no panel "${title}"`);
        return substitute(t.expr, values);
      };
      const classes = (await prom.query(byTitle('Request rate by status class')))
        .map(r => r.metric.status_class)
        .sort();
      expect(classes).toEqual(['2xx', '4xx', '5xx']);

      const ratio = Object.fromEntries(
        (await prom.query(byTitle('5xx error ratio by route'))).map(r => [r.metric.route, Number(r.value[1])]),
      );
      // /api/v1/orders: 1 request in 3 is a 500; the other routes have no 5xx series, and show 0.
      expect(ratio['/api/v1/orders']).toBeGreaterThan(0.2);
      expect(ratio['/api/v1/orders']).toBeLessThan(0.5);
      expect(ratio['/api/v1/users/:id']).toBe(0);
      expect(ratio.__unmatched__).toBe(0);

      const exceptions = (await prom.query(byTitle('Unhandled exceptions by class'))).map(
        r => `${r.metric.exception} ${r.metric.route}`,
      );
      expect(exceptions).toEqual(['PaymentDeclinedError /api/v1/orders']);

      const requestSizes = Object.fromEntries(
        (await prom.query(byTitle('Request size by route (mean)'))).map(r => [r.metric.route, Number(r.value[1])]),
      );
      expect(requestSizes['/api/v1/users']).toBeGreaterThan(0); // GET (no body) and POST {"name":"Linus"}
      expect(requestSizes['/api/v1/users/:id']).toBe(0);
    });

    it('with one route picked, the route-filtered panels show only that route', async () => {
      const route = '/api/v1/orders';
      const one = { ...values, route: multiValue([route]) };
      const problems: string[] = [];
      for (const { panel, target, expr } of classicTargets.filter(t => t.expr.includes('$route'))) {
        const result = await prom.query(substitute(expr, one));
        if (result.length === 0) problems.push(`${panel.title} [${target.refId}]: no data`);
        const others = result.filter(r => r.metric.route !== undefined && r.metric.route !== route);
        if (others.length > 0)
          problems.push(`${panel.title} [${target.refId}]: other routes ${JSON.stringify(others.map(r => r.metric))}`);
      }
      expect(problems).toEqual([]);
    });

    it('loads the rules: every group healthy, every rule evaluated without error, the recording rules produce series', async () => {
      const { records, alerts } = ruleNames(readFileSync(RULES, 'utf8'));
      const rulesApi = async (): Promise<RulesApi> =>
        (await (await fetch(`${prom.url}/api/v1/rules`)).json()) as RulesApi;

      // A few evaluations (evaluation_interval is the 1 s scrape interval) after the traffic.
      await prom.waitForScrapes(3);
      const body = await rulesApi();
      expect(body.status).toBe('success');
      const rules = body.data.groups.flatMap(g => g.rules.map(r => ({ group: g.name, ...r })));
      expect(rules.filter(r => r.type === 'recording').map(r => r.name)).toEqual(records);
      expect(rules.filter(r => r.type === 'alerting').map(r => r.name)).toEqual(alerts);
      for (const r of rules) {
        expect({
          rule: r.name,
          health: r.health,
          lastError: r.lastError ?? '',
          evaluated: !r.lastEvaluation.startsWith('0001-'),
        }).toEqual({
          rule: r.name,
          health: 'ok',
          lastError: '',
          evaluated: true,
        });
      }

      const series = async (expr: string): Promise<Record<string, number>> =>
        Object.fromEntries((await prom.query(expr)).map(r => [r.metric.route, Number(r.value[1])]));
      for (const record of records) {
        const result = await prom.query(`${record}{job="${JOB}"}`);
        expect({ record, series: result.length > 0 }).toEqual({ record, series: true });
      }
      const rate = await series(`job_route:http_requests:rate5m{job="${JOB}"}`);
      expect(Object.keys(rate).sort()).toEqual([
        '/api/v1/orders',
        '/api/v1/users',
        '/api/v1/users/:id',
        '__unmatched__',
      ]);
      for (const v of Object.values(rate)) expect(v).toBeGreaterThan(0);
      const ratio = await series(`job_route:http_requests_5xx_per_requests:ratio_rate5m{job="${JOB}"}`);
      expect(ratio['/api/v1/orders']).toBeGreaterThan(0.2);
      expect(ratio['/api/v1/orders']).toBeLessThan(0.5);
      expect(ratio['/api/v1/users/:id']).toBe(0);
      const p50 = await series(`job_route:http_request_duration_seconds:p50_rate5m{job="${JOB}"}`);
      const p99 = await series(`job_route:http_request_duration_seconds:p99_rate5m{job="${JOB}"}`);
      // POST /api/v1/orders sleeps 5 to 25 ms before answering.
      expect(p50['/api/v1/orders']).toBeGreaterThanOrEqual(0.005);
      expect(p99['/api/v1/orders']).toBeGreaterThanOrEqual(p50['/api/v1/orders']);
      expect(p99['/api/v1/orders']).toBeLessThan(10);
      // The target is up: no NestjsTargetDown, pending or firing.
      expect(await prom.query('ALERTS{alertname="NestjsTargetDown"}')).toEqual([]);
    });
  },
);
