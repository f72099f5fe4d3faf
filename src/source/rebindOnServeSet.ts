// Turns "the whole serve set, again, on every reload" into one long-lived inner stream per socket
// path, so that a reload touches only the serves that actually changed: an unchanged serve keeps
// its listener and its open connections (the Go original dropped them all on every reload).
//
// Hand-written rather than groupBy + mergeMap: those keep every group's duration subscription and
// every inner subscriber in one array on the outer subscriber, and each one that ends is removed
// from it by a linear search (rxjs's arrRemove). Stopping n serves then cost O(n²): with 100,000
// serves a shutdown spent minutes in arrRemove with the event loop held. Here the inners live in
// a Map and a Set, each added and removed in O(1), and per serve the operator holds one
// BehaviorSubject and one Subscription (it was a group, a ReplaySubject, a duration subscription
// and five operator subscribers: about half of the 17 KB of heap a serve cost at 10,000 serves).
import { BehaviorSubject, Observable, type OperatorFunction, type Subscription } from '../rx';
import { sameServe, type Serve, type ServeSet } from '../servedb/serve';
import { subscribeLive } from '../subscribeLive';
import { immediateGate, type Gate } from './sliceGate';

/**
 * For each socket path in the incoming serve sets, runs `project(serve$, socketPath)` once and
 * merges what it emits.
 *
 * - A path that appears calls `project`. `serve$` replays the path's current serve to every
 *   subscriber (also late ones) and then emits each changed serve (`sameServe` says no: identity,
 *   name, URL, user or token) without restarting anything. Reacting to an identity change is
 *   the inner's business: the socket source keeps its listener (the path did not move; closing
 *   it would only make PostgreSQL's connects fail for a moment) and closes the connections that
 *   identified as the old identity.
 * - A path that disappears completes its `serve$`. The inner is NOT unsubscribed: it is expected
 *   to wind down on its own (stop listening, drain, complete), and what it emits meanwhile is
 *   still forwarded. If the path comes back before the old inner finished, a new `project` runs
 *   beside the old one.
 * - When the source completes, every `serve$` completes (as if every path were removed), and the
 *   result completes once every inner has completed: that is the graceful-shutdown path.
 * - A source error is forwarded at once, and unsubscribing (or an inner's error) tears every
 *   inner down immediately: that is the abrupt path.
 *
 * A serve set is applied through `gate`, a few serves per call (APPLY_STEP): first the paths it
 * no longer has are stopped, then the new ones started and the changed ones updated. At once by
 * default; the socket source passes a slice gate, so that a set of 10,000 serves is compared,
 * started and stopped over many turns of the event loop rather than in one (sliceGate.ts): the
 * diff alone, done when the set arrived, held the loop a tenth of a second on a busy machine. A
 * set that arrives while the previous one is being applied replaces it: the walk starts over
 * against what is running, so only the latest set is ever applied. When the source completes,
 * whatever was not applied is dropped and every serve stops at once.
 */
export function rebindOnServeSet<T>(
  project: (serve$: Observable<Serve>, socketPath: string) => Observable<T>,
  gate: Gate = immediateGate,
): OperatorFunction<ServeSet, T> {
  return (serveSet$) =>
    new Observable<T>((subscriber) => {
      const serving = new Map<string, BehaviorSubject<Serve>>(); // path -> its current serve
      const inners = new Set<Subscription>(); // running inners, stopped ones still draining too
      let walk: Walk | undefined; // the set being applied, and how far
      let withdraw: (() => void) | undefined; // the walk's turn at the gate, while it has one
      let sourceDone = false;

      const completeIfDone = (): void => {
        if (sourceDone && inners.size === 0 && walk === undefined) subscriber.complete();
      };

      const start = (socketPath: string, serve: Serve): void => {
        const serve$ = new BehaviorSubject<Serve>(serve);
        serving.set(socketPath, serve$);
        // Undefined while subscribing, and after if it completed then: there is nothing to keep.
        let inner: Subscription | undefined;
        inner = subscribeLive(project(serve$.asObservable(), socketPath), {
          next: (value) => subscriber.next(value),
          error: (err: unknown) => subscriber.error(err), // the teardown below ends the others
          complete: () => {
            if (inner !== undefined) inners.delete(inner);
            completeIfDone();
          },
        });
        if (inner !== undefined && !subscriber.closed) inners.add(inner);
      };

      const stop = (socketPath: string): void => {
        const serve$ = serving.get(socketPath);
        serving.delete(socketPath);
        serve$?.complete();
      };

      /** Applies the next few serves of the walk; true while there is more to do. */
      const step = (): boolean => {
        const current = walk;
        if (current === undefined || subscriber.closed) return false;
        let budget = APPLY_STEP;
        const { serveSet } = current;
        while (budget > 0 && current.phase === 'index') {
          const serve = serveSet[current.at++];
          if (serve === undefined) {
            current.phase = 'stop';
            current.at = 0;
            current.running = serving.keys(); // live: a path stopped meanwhile is skipped, never an error
          } else {
            current.wanted.set(serve.socketPath, serve);
            budget -= 1 / COMPARISONS_PER_CHANGE;
          }
        }
        while (budget > 0 && current.phase === 'stop' && walk === current) {
          const next = current.running.next();
          const socketPath = next.done === true ? undefined : next.value;
          if (socketPath === undefined) {
            current.phase = 'start';
            current.at = 0;
          } else if (!current.wanted.has(socketPath)) {
            stop(socketPath);
            budget -= 1;
          } else {
            budget -= 1 / COMPARISONS_PER_CHANGE;
          }
        }
        while (budget > 0 && current.phase === 'start' && walk === current && !subscriber.closed) {
          const serve = serveSet[current.at++];
          if (serve === undefined) {
            walk = undefined;
            withdraw = undefined;
            return false;
          }
          const running = serving.get(serve.socketPath);
          if (running === undefined) {
            start(serve.socketPath, serve);
            budget -= 1;
          } else if (!sameServe(running.value, serve)) {
            running.next(serve);
            budget -= 1;
          } else {
            budget -= 1 / COMPARISONS_PER_CHANGE;
          }
        }
        return walk === current;
      };

      const source = serveSet$.subscribe({
        next: (serveSet) => {
          walk = { serveSet, phase: 'index', at: 0, wanted: new Map(), running: serving.keys() };
          if (withdraw === undefined) {
            let ran = false; // an immediate gate runs the whole walk inside gate()
            const withdrawIt = gate(() => {
              const more = step();
              if (!more) ran = true;
              return more;
            });
            if (!ran && walk !== undefined) withdraw = withdrawIt;
          }
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          sourceDone = true;
          withdraw?.(); // never applied, or stopping below anyway
          withdraw = undefined;
          walk = undefined;
          for (const socketPath of [...serving.keys()]) stop(socketPath);
          completeIfDone();
        },
      });

      return () => {
        source.unsubscribe();
        withdraw?.();
        withdraw = undefined;
        walk = undefined;
        const running = [...inners];
        inners.clear();
        for (const inner of running) inner.unsubscribe();
        serving.clear();
      };
    });
}

/** Serves started, updated or stopped per call at the gate: each is a subscription, a bind to come. */
export const APPLY_STEP = 16;
// How many unchanged serves cost as much to look at as one change.
const COMPARISONS_PER_CHANGE = 16;

/** A serve set being applied: its paths indexed, then what runs and is not wanted stopped, then the rest started or updated. */
interface Walk {
  readonly serveSet: ServeSet;
  phase: 'index' | 'stop' | 'start';
  at: number; // the next serve to look at (index, start)
  readonly wanted: Map<string, Serve>; // the set's serves by path, as far as indexed
  running: Iterator<string>; // the running paths still to look at (stop)
}
