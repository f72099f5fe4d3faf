// Work over a whole serve set, cut into steps. A pass checks and compares every serve of
// serves.new on the event loop every tenant's socket is read on; done in one go, 10,000 serves
// held that loop for 150-250 ms on a busy machine, and a backend logging meanwhile blocked in
// send(). Written as a generator that yields after each SERVES_PER_STEP serves, the same code
// runs to its end at once (start-up, check-serves, the pure `parseServes`) or one step per turn
// of the loop (a running pass, `inTurns`), so the two can never disagree on what they decide.
import { concatMap, defer, type Observable, of } from '../rx';

/**
 * Serves handled between two turns of the event loop: 256 take 0.5-2.5 ms on an idle 2-core
 * machine (a few times that on a busy one), well inside a 10 ms read tick.
 */
export const SERVES_PER_STEP = 256;

/** Work that yields (nothing) between steps and returns its result. */
export type Steps<T> = Generator<void, T, void>;

/** Calls `each` for every item, yielding after each SERVES_PER_STEP of them (never after the last). */
export function* eachInSteps<T>(items: readonly T[], each: (item: T, index: number) => void): Steps<void> {
  for (let index = 0; index < items.length; index++) {
    if (index > 0 && index % SERVES_PER_STEP === 0) yield;
    each(items[index] as T, index);
  }
}

/** Runs every step at once: for callers with nothing else to serve meanwhile. */
export function runToEnd<T>(steps: Steps<T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}

/**
 * Runs one step, then waits for `turn` (the event loop serves I/O meanwhile) before the next;
 * emits the result and completes. Unsubscribing stops between steps.
 */
export function inTurns<T>(start: () => Steps<T>, turn: () => Observable<void>): Observable<T> {
  return defer(() => {
    const steps = start();
    const next = (): Observable<T> => {
      const step = steps.next();
      return step.done === true ? of(step.value) : turn().pipe(concatMap(next));
    };
    return next();
  });
}
