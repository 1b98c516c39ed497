/**
 * Whether an `Accept-Encoding` header (RFC 9110, section 12.5.3) accepts gzip: `gzip` (or its alias
 * `x-gzip`) with a q-value above 0, or else `*` with one. `gzip;q=0, identity` refuses gzip, as
 * does `*;q=0` without an explicit `gzip`. A malformed q-value counts as refusal.
 *
 * @example
 * acceptsGzip('gzip, deflate, br'); // true
 * acceptsGzip('gzip;q=0, identity'); // false
 * acceptsGzip('*'); // true
 */
export function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined || header === '') return false;
  let gzip: number | undefined;
  let any: number | undefined;
  for (const element of header.split(',')) {
    const parts = element.split(';');
    const coding = parts[0].trim().toLowerCase();
    if (coding !== 'gzip' && coding !== 'x-gzip' && coding !== '*') continue;
    const q = qValue(parts);
    if (coding === '*') any = Math.max(any ?? 0, q);
    else gzip = Math.max(gzip ?? 0, q);
  }
  return (gzip ?? any ?? 0) > 0;
}

/** The `q` parameter of a coding (default 1); 0 when it is not a valid weight (`0` to `1`, 3 decimals). */
function qValue(parts: readonly string[]): number {
  for (let i = 1; i < parts.length; i++) {
    const param = parts[i].trim();
    const eq = param.indexOf('=');
    if (eq === -1 || param.slice(0, eq).trim().toLowerCase() !== 'q') continue;
    const value = param.slice(eq + 1).trim();
    return /^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(value) ? Number(value) : 0;
  }
  return 1;
}
