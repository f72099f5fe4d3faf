// Serializes the reload passes. A pass reads serves.new and then renames or copies files, so two
// must never overlap; and a burst of triggers (an editor firing several events, a poll landing
// at the same moment, SIGHUP) must not queue a pass per trigger. Policy, in one sentence: a
// trigger while idle starts a pass; triggers during a pass collapse into one more pass after it
// (the latest trigger is the one passed on, unless `keep` prefers the one waiting), because that
// pass will see whatever they announced.
// exhaustMap would drop the last trigger of a burst (missing a change); concatMap would run one
// pass per trigger. Hence a small hand-written operator.
import { Observable, type OperatorFunction, type Subscription } from '../rx';

/**
 * `keep(waiting, next)`: which of two triggers the one pass after the current stands for; the
 * newer by default. The serve database keeps a rescan over a poll, so that the pass a SIGHUP
 * asked for says so.
 */
export function coalescePasses<T, R>(pass: (trigger: T) => Observable<R>, keep: (waiting: T, next: T) => T = (_, next) => next): OperatorFunction<T, R> {
  return (trigger$) =>
    new Observable<R>((subscriber) => {
      let busy = false;
      let pending: { readonly trigger: T } | undefined; // at most one pass waiting
      let sourceDone = false;
      let generation = 0; // tells the running pass from one that completed synchronously
      let current: Subscription | undefined;

      const start = (trigger: T): void => {
        busy = true;
        const mine = ++generation;
        const subscription = pass(trigger).subscribe({
          next: (value) => subscriber.next(value),
          error: (err: unknown) => subscriber.error(err),
          complete: () => {
            busy = false;
            current = undefined;
            if (pending !== undefined) {
              const next = pending.trigger;
              pending = undefined;
              start(next);
            } else if (sourceDone) {
              subscriber.complete();
            }
          },
        });
        if (busy && mine === generation) current = subscription;
      };

      const source = trigger$.subscribe({
        next: (trigger) => {
          if (busy) pending = { trigger: pending === undefined ? trigger : keep(pending.trigger, trigger) };
          else start(trigger);
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          sourceDone = true;
          if (!busy && pending === undefined) subscriber.complete();
        },
      });

      return () => {
        source.unsubscribe();
        current?.unsubscribe();
      };
    });
}
