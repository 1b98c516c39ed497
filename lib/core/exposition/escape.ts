// The escaping of the Prometheus text format and OpenMetrics, written exactly as prom-client 15's
// Registry writes it, so that the module's renderer and prom-client's give the same bytes.

/**
 * A metric name or HELP text as prom-client escapes it: backslash and line feed.
 *
 * @example
 * escapeHelp('a\\b\nc'); // 'a\\\\b\\nc'
 */
export function escapeHelp(text: string): string {
  // Most HELP texts need no escaping: skip the two regex passes then.
  if (text.indexOf('\\') === -1 && text.indexOf('\n') === -1) return text;
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/**
 * A label value as prom-client writes it between quotes: strings escaped (backslash, line feed,
 * double quote), anything else as JavaScript prints it in a template literal.
 *
 * @example
 * escapeLabelValue('say "hi"'); // 'say \\"hi\\"'
 */
export function escapeLabelValue(value: unknown): string {
  if (typeof value !== 'string') return value as string;
  if (value.indexOf('\\') === -1 && value.indexOf('\n') === -1 && value.indexOf('"') === -1) return value;
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/**
 * A label set as the text between `{` and `}`: `name="value"` pairs in the object's key order,
 * joined by commas (`''` for no labels). The module's series compute it once, when they are made.
 *
 * @example
 * labelPairs({ method: 'GET', status: 200 }); // 'method="GET",status="200"'
 */
export function labelPairs(labels: Readonly<Record<string, unknown>>): string {
  const pairs: string[] = [];
  for (const name in labels) {
    if (Object.prototype.hasOwnProperty.call(labels, name)) pairs.push(`${name}="${escapeLabelValue(labels[name])}"`);
  }
  // join() gives one flat string: `+=` would keep a rope of small pieces alive with every series.
  return pairs.join(',');
}

/**
 * A sample value as prom-client writes it: `Nan` (sic, prom-client's spelling), `+Inf`, `-Inf`,
 * else the number as JavaScript prints it.
 *
 * @example
 * sampleValue(0.25); // '0.25'
 */
export function sampleValue(value: number): string {
  if (Number.isFinite(value)) return `${value}`;
  if (Number.isNaN(value)) return 'Nan';
  return value < 0 ? '-Inf' : '+Inf';
}
