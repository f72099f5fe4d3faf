// The text-format parser the metrics specs rely on must itself refuse what Prometheus would.
import { parsePrometheusText, sumOf } from './promText';

describe('parsePrometheusText', () => {
  it('reads families, labels with escapes, and histogram samples', () => {
    const families = parsePrometheusText(
      [
        '# HELP x_total Things, with a \\\\ and a \\n.',
        '# TYPE x_total counter',
        'x_total{serve="A",socket="/run/a \\"b\\"\\\\c\\nd"} 3',
        'x_total{serve="",socket="/run/b"} 4.5',
        '# TYPE h histogram',
        'h_bucket{le="0.1"} 1',
        'h_bucket{le="+Inf"} 2',
        'h_sum 0.3',
        'h_count 2',
        '',
      ].join('\n'),
    );
    expect(families.get('x_total')?.help).toBe('Things, with a \\ and a \n.');
    expect(families.get('x_total')?.samples[0]?.labels).toEqual({ serve: 'A', socket: '/run/a "b"\\c\nd' });
    expect(sumOf(families, 'x_total')).toBe(7.5);
    expect(sumOf(families, 'x_total', { serve: '' })).toBe(4.5);
    expect(sumOf(families, 'h', {}, 'h_count')).toBe(2);
  });

  it.each([
    ['a sample without a TYPE', 'y 1\n'],
    ['a duplicate series', '# TYPE y gauge\ny{a="1"} 1\ny{a="1"} 2\n'],
    ['a bad escape', '# TYPE y gauge\ny{a="\\t"} 1\n'],
    ['an unquoted label value', '# TYPE y gauge\ny{a=1} 1\n'],
    ['a bad value', '# TYPE y gauge\ny 1,5\n'],
    ['a missing final newline', '# TYPE y gauge\ny 1'],
    ['buckets that are not cumulative', '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'],
    ['a +Inf bucket that is not the count', '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n'],
  ])('refuses %s', (_, text) => {
    expect(() => parsePrometheusText(text)).toThrow();
  });
});
