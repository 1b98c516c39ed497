/**
 * A strict parser of the Prometheus text format (0.0.4) and of OpenMetrics 1.0 text, for tests:
 * any line it does not understand is an error, so a malformed scrape fails the test.
 */
export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
  exemplar?: { labels: Record<string, string>; value: number; timestamp?: number };
}

export interface ParsedFamily {
  name: string;
  help?: string;
  type?: string;
  samples: ParsedSample[];
}

export interface Exposition {
  families: Map<string, ParsedFamily>;
  samples: ParsedSample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*';
const SAMPLE_SUFFIXES = ['_bucket', '_sum', '_count', '_total', '_created', '_info'];

function parseValue(text: string, line: string): number {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  // Both formats take NaN case-insensitively (Go's ParseFloat; OpenMetrics' ABNF): prom-client writes "Nan".
  if (/^nan$/i.test(text)) return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad value "${text}" in: ${line}`);
  return Number(text);
}

function unescape(text: string, line: string): string {
  return text.replace(/\\(.)/g, (_m, c: string) => {
    if (c === 'n') return '\n';
    if (c === '\\' || c === '"') return c;
    throw new Error(`bad escape \\${c} in: ${line}`);
  });
}

/** Parses `{a="1",b="2"}` starting at `pos` (which must be at `{`); returns labels and the next position. */
function parseLabels(line: string, pos: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = pos + 1;
  const re = new RegExp(`^(${LABEL})="((?:[^"\\\\\\n]|\\\\.)*)"`);
  while (line[i] !== '}') {
    const m = re.exec(line.slice(i));
    if (!m) throw new Error(`bad label set at column ${i} in: ${line}`);
    if (m[1] in labels) throw new Error(`duplicate label ${m[1]} in: ${line}`);
    labels[m[1]] = unescape(m[2], line);
    i += m[0].length;
    if (line[i] === ',') i++;
    else if (line[i] !== '}') throw new Error(`expected , or } at column ${i} in: ${line}`);
  }
  return { labels, end: i + 1 };
}

function familyOf(name: string, families: Map<string, ParsedFamily>): ParsedFamily | undefined {
  if (families.has(name)) return families.get(name);
  for (const suffix of SAMPLE_SUFFIXES) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length);
      if (families.has(base)) return families.get(base);
    }
  }
  return undefined;
}

export function parseExposition(text: string, format: 'prometheus' | 'openmetrics' = 'prometheus'): Exposition {
  const families = new Map<string, ParsedFamily>();
  const samples: ParsedSample[] = [];
  const lines = text.split('\n');
  if (format === 'openmetrics') {
    if (lines[lines.length - 1] !== '' || lines[lines.length - 2] !== '# EOF') {
      throw new Error('OpenMetrics exposition must end with "# EOF\\n"');
    }
    lines.splice(lines.length - 2, 2);
  } else if (text.length > 0 && !text.endsWith('\n')) {
    throw new Error('exposition must end with a newline');
  }
  const seen = new Set<string>();
  for (const line of lines) {
    if (line === '') {
      if (format === 'openmetrics') throw new Error('blank line in OpenMetrics exposition');
      continue;
    }
    const meta = new RegExp(`^# (HELP|TYPE|UNIT) (${NAME})(?: (.*))?$`).exec(line);
    if (meta) {
      const [, kind, name, rest = ''] = meta;
      let family = families.get(name);
      if (!family) {
        family = { name, samples: [] };
        families.set(name, family);
      }
      if (kind === 'HELP') {
        if (family.help !== undefined) throw new Error(`second HELP for ${name}`);
        family.help = rest;
      } else if (kind === 'TYPE') {
        if (family.type !== undefined) throw new Error(`second TYPE for ${name}`);
        const types = [
          'counter',
          'gauge',
          'histogram',
          'summary',
          'untyped',
          'unknown',
          'info',
          'stateset',
          'gaugehistogram',
        ];
        if (!types.includes(rest)) throw new Error(`bad TYPE "${rest}" for ${name}`);
        family.type = rest;
      }
      continue;
    }
    if (line.startsWith('#')) {
      if (format === 'openmetrics') throw new Error(`unexpected comment: ${line}`);
      continue;
    }
    const nameMatch = new RegExp(`^${NAME}`).exec(line);
    if (!nameMatch) throw new Error(`bad sample line: ${line}`);
    const name = nameMatch[0];
    let pos = name.length;
    let labels: Record<string, string> = {};
    if (line[pos] === '{') {
      const parsed = parseLabels(line, pos);
      labels = parsed.labels;
      pos = parsed.end;
    }
    const rest = line.slice(pos);
    const m = /^ (\S+)(?: (\S+))?(?: # (\{.*\}) (\S+)(?: (\S+))?)?$/.exec(rest);
    if (!m) throw new Error(`bad sample line: ${line}`);
    const sample: ParsedSample = { name, labels, value: parseValue(m[1], line) };
    if (m[3] !== undefined) {
      if (format !== 'openmetrics') throw new Error(`exemplar outside OpenMetrics: ${line}`);
      const exemplarLabels = parseLabels(m[3], 0).labels;
      // OpenMetrics 1.0: an exemplar's label names and values together hold at most 128 code points.
      // Spreading a string splits it into code points, which is exactly what the limit counts.
      const exemplarLength = Object.entries(exemplarLabels).reduce(
        // eslint-disable-next-line @typescript-eslint/no-misused-spread
        (n, [k, v]) => n + [...k].length + [...v].length,
        0,
      );
      if (exemplarLength > 128)
        throw new Error(`exemplar label set of ${exemplarLength} characters (max 128): ${line}`);
      sample.exemplar = {
        labels: exemplarLabels,
        value: parseValue(m[4], line),
        timestamp: m[5] === undefined ? undefined : parseValue(m[5], line),
      };
    }
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(key)) throw new Error(`duplicate series: ${line}`);
    seen.add(key);
    const family = familyOf(name, families);
    if (!family) throw new Error(`sample without HELP/TYPE: ${line}`);
    family.samples.push(sample);
    samples.push(sample);
  }
  return { families, samples };
}

/** Samples of `name` whose labels include all of `labels`. */
export function findSamples(exp: Exposition, name: string, labels: Record<string, string> = {}): ParsedSample[] {
  return exp.samples.filter(s => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** The one sample of `name` with exactly these labels (among others: none), or undefined. */
export function sampleValue(exp: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = findSamples(exp, name, labels);
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

/** Sum of the samples of `name` whose labels include `labels`. */
export function sumOf(exp: Exposition, name: string, labels: Record<string, string> = {}): number {
  return findSamples(exp, name, labels).reduce((a, s) => a + s.value, 0);
}
