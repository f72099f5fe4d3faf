// coalescePasses(): passes never overlap, and a burst of triggers during a pass becomes one
// more pass (with the latest trigger), not one per trigger.
import { of } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { coalescePasses } from '../../src/servedb';

let scheduler: TestScheduler;
beforeEach(() => {
  scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
});

describe('coalescePasses', () => {
  it('runs one pass at a time; triggers during a pass collapse into one more', () => {
    scheduler.run(({ hot, cold, expectObservable }) => {
      // Each pass takes 4 frames and reports its trigger after 3.
      const pass = (trigger: string) => cold('---x|', { x: trigger });
      const trigger$ = hot('-abc-------d-|');
      expectObservable(trigger$.pipe(coalescePasses(pass))).toBe('----a---c-----d|');
    });
  });

  it('starts the next pass right after the one under way, not when the trigger came', () => {
    scheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const passA = cold('--a|');
      const passB = cold('--b|');
      const passes: Record<string, typeof passA> = { a: passA, b: passB };
      const trigger$ = hot('-ab-------|');
      expectObservable(trigger$.pipe(coalescePasses((t: string) => passes[t] ?? passA))).toBe('---a--b---|');
      expectSubscriptions(passA.subscriptions).toBe('-^--!');
      expectSubscriptions(passB.subscriptions).toBe('----^--!');
    });
  });

  it('waits for the pass under way before completing', () => {
    scheduler.run(({ hot, cold, expectObservable }) => {
      const trigger$ = hot('-a|');
      expectObservable(trigger$.pipe(coalescePasses(() => cold('-----x|')))).toBe('------x|');
    });
  });

  it('behaves like map for passes that finish at once', () => {
    scheduler.run(({ hot, expectObservable }) => {
      const trigger$ = hot('-abc|');
      expectObservable(trigger$.pipe(coalescePasses((t: string) => of(t.toUpperCase())))).toBe('-ABC|', { A: 'A', B: 'B', C: 'C' });
    });
  });

  it('stops the pass under way when unsubscribed', () => {
    scheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const pass = cold('-----x|');
      const trigger$ = hot('-a-------');
      expectObservable(trigger$.pipe(coalescePasses(() => pass)), '^--!').toBe('----');
      expectSubscriptions(pass.subscriptions).toBe('-^-!');
    });
  });
});
