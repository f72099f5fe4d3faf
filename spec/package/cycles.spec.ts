// No module of src/ reaches itself through its imports: a cycle makes the order modules load in
// matter (a value read before its module finished loading is undefined) and ties modules that
// should be understood one after the other into one knot. And the daemon's modules stay the
// daemon's: the demo and the test doubles of src/tools are loaded by their own entry points.
import { cycles, importGraph, reachableFrom } from './importGraph';

const graph = importGraph();

describe('the import graph of src/', () => {
  it('finds the modules and their imports', () => {
    expect(graph.get('daemon/main.ts')).toEqual(expect.arrayContaining(['collector.ts', 'daemon/config.ts']));
    expect(graph.get('index.ts')).toContain('collector.ts');
  });

  it('has no cycles', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it("keeps the demo and the test doubles out of the daemon's module graph", () => {
    const daemon = [...reachableFrom(graph, 'daemon/main.ts')];
    expect(daemon.filter((module) => module.startsWith('demo/') || module.startsWith('tools/'))).toEqual([]);
  });

  it('finds a cycle when there is one (the check itself)', () => {
    const knot = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts', 'd.ts']],
      ['d.ts', []],
    ]);
    expect(cycles(knot)).toEqual([['a.ts', 'b.ts', 'c.ts']]);
  });
});
