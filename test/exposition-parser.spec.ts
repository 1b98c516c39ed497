import { parseExposition, sampleValue } from './utils/exposition.js';

describe('parseExposition (test helper)', () => {
  it('parses families, labels with escapes and special values', () => {
    const exp = parseExposition(
      '# HELP a_total A counter\n# TYPE a_total counter\na_total{x="q\\"\\\\\\n",y="2"} 3\n' +
        '# HELP h A histogram\n# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 0.5\nh_count 2\n',
    );
    expect(sampleValue(exp, 'a_total', { x: 'q"\\\n' })).toBe(3);
    expect(sampleValue(exp, 'h_bucket', { le: '+Inf' })).toBe(2);
    expect(exp.families.get('h')?.type).toBe('histogram');
  });

  it.each([
    ['a sample without TYPE', 'x 1\n'],
    ['a bad value', '# TYPE x gauge\nx one\n'],
    ['a bad label set', '# TYPE x gauge\nx{a=1} 1\n'],
    ['a duplicate series', '# TYPE x gauge\nx{a="1"} 1\nx{a="1"} 2\n'],
    ['a missing final newline', '# TYPE x gauge\nx 1'],
  ])('rejects %s', (_what, text) => {
    expect(() => parseExposition(text)).toThrow();
  });

  it('requires # EOF in OpenMetrics', () => {
    expect(() => parseExposition('# TYPE x gauge\nx 1\n', 'openmetrics')).toThrow(/EOF/);
    expect(parseExposition('# TYPE x gauge\nx 1\n# EOF\n', 'openmetrics').samples).toHaveLength(1);
  });
});
