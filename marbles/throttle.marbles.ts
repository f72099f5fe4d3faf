// Virtual-time diagrams of the one throttle: the first at once, then at most one per interval
// with the count of what was held back; a quiet interval makes the next pass at once again.
import { Observable, type OperatorFunction, type SchedulerLike } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { KeyedThrottle, Throttle, type Throttled } from '../src/throttle';

/**
 * The Throttle the collector runs, as an operator for diagrams only: each value is offered, the
 * end flushes what is held, an error forgets it.
 */
function throttleCounting<T>(intervalMs: number, scheduler: SchedulerLike): OperatorFunction<T, Throttled<T>> {
  return (source) =>
    new Observable<Throttled<T>>((subscriber) => {
      const throttle = new Throttle<T>(intervalMs, scheduler, (throttled) => subscriber.next(throttled));
      const subscription = source.subscribe({
        next: (value) => throttle.offer(value),
        error: (err: unknown) => {
          throttle.dispose();
          subscriber.error(err);
        },
        complete: () => {
          throttle.flush();
          subscriber.complete();
        },
      });
      return () => {
        subscription.unsubscribe();
        throttle.dispose();
      };
    });
}

describe('Throttle, drawn as an operator', () => {
  let scheduler: TestScheduler;
  beforeEach(() => {
    scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  });

  const at = <T>(value: T, held: number, since: number): Throttled<T> => ({ value, held, since });

  it('lets the first through at once, then the latest of an interval with its count, once per interval', () => {
    scheduler.run(({ cold, expectObservable }) => {
      //                    a at 0 passes; b, c, d held: d at 10 with 3 held since 2; e at 12, held: at 20.
      const source = cold('a-b-c-d-----e-------|');
      const expected = '   a---------d---------(e|)';
      expectObservable(source.pipe(throttleCounting(10, scheduler))).toBe(expected, {
        a: at('a', 0, 0),
        d: at('d', 3, 2),
        e: at('e', 1, 12),
      });
    });
  });

  it('closes after an interval that held nothing: the next value passes at once', () => {
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold('a 24ms b 4ms c 9ms |');
      const expected = '   a 24ms b 9ms c 4ms |';
      expectObservable(source.pipe(throttleCounting(10, scheduler))).toBe(expected, {
        a: at('a', 0, 0),
        b: at('b', 0, 25),
        c: at('c', 1, 30),
      });
    });
  });

  it('on completion lets what is held through first; on error forgets it', () => {
    scheduler.run(({ cold, expectObservable }) => {
      expectObservable(cold('ab|').pipe(throttleCounting(10, scheduler))).toBe('a-(b|)', { a: at('a', 0, 0), b: at('b', 1, 1) });
      expectObservable(cold('ab#').pipe(throttleCounting(10, scheduler))).toBe('a-#', { a: at('a', 0, 0) });
    });
  });

  it('an interval of 0 lets everything through', () => {
    scheduler.run(({ cold, expectObservable }) => {
      expectObservable(cold('ab|').pipe(throttleCounting(0, scheduler))).toBe('ab|', { a: at('a', 0, 0), b: at('b', 0, 1) });
    });
  });
});

describe('Throttle and KeyedThrottle (the same, for callers that are called)', () => {
  it('flush() lets what is held through at once; dispose() forgets it', () => {
    const scheduler = new TestScheduler(() => undefined);
    const passed: Array<Throttled<string>> = [];
    const throttle = new Throttle<string>(10, scheduler, (t) => passed.push(t));
    throttle.offer('a');
    throttle.offer('b');
    throttle.flush();
    expect(passed.map((t) => `${t.value}${t.held}`)).toEqual(['a0', 'b1']);
    throttle.offer('c'); // a new interval: at once
    throttle.offer('d');
    throttle.dispose();
    scheduler.flush();
    expect(passed.map((t) => `${t.value}${t.held}`)).toEqual(['a0', 'b1', 'c0']);
  });

  it('keeps keys apart, and forgets a key after an interval that held nothing', () => {
    const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    const passed: string[] = [];
    scheduler.run(({ cold, flush }) => {
      const keyed = new KeyedThrottle<string, number>(10, scheduler, (key, t) => passed.push(`${key}${t.value}/${t.held}@${scheduler.now()}`));
      const offers: Record<string, () => void> = {
        a: () => keyed.offer('x', 1),
        b: () => keyed.offer('x', 2),
        c: () => keyed.offer('y', 3),
        d: () => keyed.offer('x', 4),
      };
      cold('a-b-c 20ms d', offers).subscribe((offer) => offer());
      scheduler.schedule(() => expect(keyed.size).toBe(0), 21); // x passed 2 at 10, then held nothing until 20
      flush();
    });
    expect(passed).toEqual(['x1/0@0', 'y3/0@4', 'x2/1@10', 'x4/0@25']);
  });
});
