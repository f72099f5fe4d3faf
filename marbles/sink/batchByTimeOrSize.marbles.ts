// batchByTimeOrSize on the virtual clock: each diagram is the timing the operator promises.
import { TestScheduler } from 'rxjs/testing';
import { batchByTimeOrSize, type BatchOptions } from '../../src/sink/batchByTimeOrSize';

const newScheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

const options = (overrides: Partial<BatchOptions<string>> = {}): BatchOptions<string> => ({
  maxItems: 3,
  maxBytes: 100,
  flushIntervalMs: 5,
  sizeOf: (s) => s.length,
  ...overrides,
});

describe('batchByTimeOrSize', () => {
  it('emits flushInterval after the first item of a batch (period trigger)', () => {
    newScheduler().run(({ hot, expectObservable }) => {
      const source = hot('  -a-b---------c---|');
      // c arrives at 13; its timer would fire at 18, but completion at 17 flushes it first.
      const expected = '    ------x----------(y|)';
      expectObservable(source.pipe(batchByTimeOrSize(options()))).toBe(expected, {
        x: ['a', 'b'],
        y: ['c'],
      });
    });
  });

  it('starts the timer at a batch first item, not on a fixed period', () => {
    newScheduler().run(({ hot, expectObservable }) => {
      const source = hot('a------b-------|');
      const expected = '  -----x------y--|';
      expectObservable(source.pipe(batchByTimeOrSize(options()))).toBe(expected, { x: ['a'], y: ['b'] });
    });
  });

  it('emits as soon as maxItems is reached, and cancels that batch timer (size trigger)', () => {
    newScheduler().run(({ hot, expectObservable }) => {
      const source = hot('-abcd-------|');
      const expected = '  ---x-----y--|';
      expectObservable(source.pipe(batchByTimeOrSize(options()))).toBe(expected, { x: ['a', 'b', 'c'], y: ['d'] });
    });
  });

  it('emits on reaching maxBytes and cuts before an item that would overflow it', () => {
    newScheduler().run(({ hot, expectObservable }) => {
      // a+b = 5 bytes: full at once. d (7) would overflow c's batch, so c leaves when d arrives, and
      // d, bigger than the cap by itself, leaves alone at once rather than wait for its timer.
      const source = hot('-ab-cd-------|', { a: 'xx', b: 'yyy', c: 'z', d: 'wwwwwww' });
      const expected = '  --x--(yz)----|';
      expectObservable(source.pipe(batchByTimeOrSize(options({ maxBytes: 5 })))).toBe(expected, {
        x: ['xx', 'yyy'],
        y: ['z'],
        z: ['wwwwwww'],
      });
    });
  });

  it('counts items by weightOf toward maxItems: cuts before an item that would pass it, a heavy one travels alone', () => {
    newScheduler().run(({ hot, expectObservable }) => {
      // Weights are the digits (records weighing their frames). maxItems 3: a(1)+b(2) is full at
      // once; c(2) opens a batch that d(2) would overflow, so c leaves when d arrives; e(5) cuts d's
      // batch the same way and, heavier than the cap by itself, leaves alone at once.
      const source = hot('-ab-cd-e----|', { a: 'a1', b: 'b2', c: 'c2', d: 'd2', e: 'e5' });
      const expected = '  --x--y-(wz)-|';
      const weightOf = (s: string) => Number(s[1]);
      expectObservable(source.pipe(batchByTimeOrSize(options({ weightOf })))).toBe(expected, {
        x: ['a1', 'b2'],
        y: ['c2'],
        z: ['e5'],
        w: ['d2'],
      });
    });
  });

  it('flushes the partial batch on completion', () => {
    newScheduler().run(({ hot, expectObservable }) => {
      const source = hot('-ab|');
      const expected = '  ---(x|)';
      expectObservable(source.pipe(batchByTimeOrSize(options()))).toBe(expected, { x: ['a', 'b'] });
    });
  });

  it('emits nothing for an empty source', () => {
    newScheduler().run(({ hot, expectObservable }) => {
      expectObservable(hot('---|').pipe(batchByTimeOrSize(options()))).toBe('---|');
    });
  });

  it('cuts a batch when startsNewBatch says the next item may not join it', () => {
    newScheduler().run(({ hot, expectObservable }) => {
      const source = hot('-aAb------|', { a: 'a1', A: 'a2', b: 'b1' });
      const expected = '  ---x----y-|';
      const sameLetter = (first: string, next: string) => first[0] !== next[0];
      expectObservable(source.pipe(batchByTimeOrSize(options({ startsNewBatch: sameLetter })))).toBe(expected, {
        x: ['a1', 'a2'],
        y: ['b1'],
      });
    });
  });

  it('passes an error on and drops the partial batch with it', () => {
    newScheduler().run(({ hot, expectObservable }) => {
      expectObservable(hot('-a-#').pipe(batchByTimeOrSize(options()))).toBe('---#');
    });
  });

  it('uses the scheduler it is given', () => {
    const scheduler = newScheduler();
    scheduler.run(({ hot, expectObservable }) => {
      const source = hot('-a--------|');
      expectObservable(source.pipe(batchByTimeOrSize(options({ scheduler, flushIntervalMs: 3 })))).toBe('----x-----|', { x: ['a'] });
    });
  });
});
