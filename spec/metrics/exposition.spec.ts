// The exposition as written into Buffers: byte for byte what the format (and the renderer that
// built each line as a string before) says, whatever the labels and values, in slices.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { formatValue, labelBytes, renderFamilies, renderLabels, rowFamily, SeriesWriter, withLabel } from '../../src/metrics/exposition';
import { sampleFamilies, withoutNodeVersion } from './sampleTally';

const text = (chunks: readonly Buffer[]): string => Buffer.concat(chunks).toString('utf8');

describe('the exposition', () => {
  it('renders a tally byte for byte as before, however it is sliced', async () => {
    const expected = readFileSync(join(__dirname, 'expected', 'sample.prom'), 'utf8');
    for (const perSlice of [1, 7, 1_000]) {
      let pauses = 0;
      const chunks = await renderFamilies(sampleFamilies(), perSlice, () => Promise.resolve(pauses++));
      expect(withoutNodeVersion(text(chunks))).toBe(expected);
      // A pause per serve at least (a serve's breakdown is written whole: a few series from closed lists).
      if (perSlice === 1) expect(pauses).toBeGreaterThan(expected.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length / 2);
    }
  });

  it('writes each series as the string template would, for any labels and value', () => {
    const value = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(0, -0, 2 ** 53, 2 ** 53 - 1, -(2 ** 53) + 1, 1e21, 1e-7, NaN, Infinity, -Infinity));
    const label = fc.string({ unit: 'grapheme', maxLength: 40 });
    fc.assert(
      fc.property(fc.array(fc.tuple(label, label, fc.option(label, { nil: undefined }), value), { maxLength: 30 }), (rows) => {
        const out = new SeriesWriter(Infinity);
        const name = Buffer.from('x_total');
        let expected = '';
        for (const [serve, socket, extra, v] of rows) {
          const labels = renderLabels([['serve', serve], ['socket', socket]]);
          if (extra === undefined) {
            out.series(name, labelBytes([['serve', serve], ['socket', socket]]), v);
            expected += `x_total{${labels}} ${formatValue(v)}\n`;
          } else {
            out.seriesWith(name, labelBytes([['serve', serve], ['socket', socket]]), labelBytes([['reason', extra]]), v);
            expected += `x_total{${withLabel(labels, 'reason', extra)}} ${formatValue(v)}\n`;
          }
        }
        expect(text(out.finish())).toBe(expected);
      }),
    );
  });

  it('cuts the text into chunks of at most 64 KiB, a line longer than that in one of its own', async () => {
    const long = 'y'.repeat(100_000);
    const rows = [...Array.from({ length: 3_000 }, (_, i) => `s${i}`), long, 'last'];
    const family = rowFamily('x', 'gauge', 'h', () => rows, (row, name, out) => out.series(name, labelBytes([['serve', row]]), 1));
    const chunks = await renderFamilies([family], 100, () => Promise.resolve());
    expect(chunks.filter((c) => c.length > 64 * 1024).map((c) => c.length)).toEqual([long.length + 'x{serve=""} 1\n'.length]);
    expect(text(chunks).split('\n').filter((l) => l.startsWith('x{')).length).toBe(rows.length);
  });

  it('makes little garbage: a render of 10,000 serves allocates a few MB of heap, not tens', () => {
    // In a node of its own whose young generation is larger than the old renderer's garbage
    // (about 60 MB a render here): no collection runs, so heapUsed grows by what the render allocated.
    const script = `
      const { CollectorTally } = require('./dist/metrics/tally');
      const { collectorFamilies } = require('./dist/metrics/families');
      const { renderFamilies } = require('./dist/metrics/exposition');
      const tally = new CollectorTally(() => 0);
      tally.onServeSet(Array.from({ length: 10000 }, (_, i) => ({ identity: 'd' + i, socketPath: '/run/pg/tenant-' + i + '.sock', name: 'T' + i, target: { url: 'https://x/logs', user: 'u' } })));
      const families = collectorFamilies({ tally, readiness: () => ({ ready: true }), isListening: () => true, version: '1', renders: () => 1, scrapeConnections: () => 1 });
      const render = () => renderFamilies(families, 1000, () => Promise.resolve());
      render().then(() => {
        const before = process.memoryUsage().heapUsed;
        return render().then((chunks) => {
          const heap = process.memoryUsage().heapUsed - before;
          process.stdout.write(JSON.stringify({ heap, bytes: chunks.reduce((n, c) => n + c.length, 0) }));
        });
      });`;
    const root = resolve(__dirname, '..', '..');
    const out = JSON.parse(execFileSync(process.execPath, ['--min-semi-space-size=128', '--max-semi-space-size=128', '-e', script], { cwd: root, encoding: 'utf8' })) as { heap: number; bytes: number };
    expect(out.bytes).toBeGreaterThan(8_000_000);
    expect(out.heap).toBeGreaterThan(0); // negative: a collection ran, the measure is void
    expect(out.heap).toBeLessThan(out.bytes / 2);
  });
});
