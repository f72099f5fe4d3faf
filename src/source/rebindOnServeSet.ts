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
import { sameServe, serveSetChanges, type Serve, type ServeSet } from '../servedb/serve';
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
 * Work per serve set is one diff against the previous set (linear in the set's size, with no
 * subscription work) plus O(1) per serve that changed. Stops happen at once (a removed serve's
 * socket file is gone when the set has been pushed); starts and updates go through `gate`: at
 * once by default, while the socket source passes a slice gate, so that 10,000 new serves start
 * over many turns of the event loop rather than in one (sliceGate.ts). A start or update that
 * waited applies the path's serve as it is in the latest set (nothing, if it was removed
 * meanwhile). When the source completes, whatever still waits is dropped.
 */
export function rebindOnServeSet<T>(
  project: (serve$: Observable<Serve>, socketPath: string) => Observable<T>,
  gate: Gate = immediateGate,
): OperatorFunction<ServeSet, T> {
  return (serveSet$) =>
    new Observable<T>((subscriber) => {
      const serving = new Map<string, BehaviorSubject<Serve>>(); // path -> its current serve
      const inners = new Set<Subscription>(); // running inners, stopped ones still draining too
      const pending = new Set<() => void>(); // withdraws the starts and updates waiting at the gate
      let previous: ServeSet = [];
      let wanted = new Map<string, Serve>(); // the latest set by path: what a waiting change applies
      let sourceDone = false;

      const completeIfDone = (): void => {
        if (sourceDone && inners.size === 0 && pending.size === 0) subscriber.complete();
      };

      /** `apply` at the gate's pace, in order with the other starts and updates. */
      const enqueue = (apply: () => void): void => {
        let ran = false;
        let withdraw: (() => void) | undefined; // unset while an immediate gate runs the job
        withdraw = gate(() => {
          ran = true;
          if (withdraw !== undefined) pending.delete(withdraw);
          if (!subscriber.closed) apply();
        });
        if (!ran) pending.add(withdraw);
      };

      /** Brings `socketPath` to what the latest set wants, once its turn at the gate came. */
      const catchUp = (socketPath: string): void => {
        const serve = wanted.get(socketPath);
        if (serve === undefined) return; // removed while waiting: its stop already happened
        const running = serving.get(socketPath);
        if (running === undefined) start(socketPath, serve);
        else if (!sameServe(running.value, serve)) running.next(serve);
      };

      const start = (socketPath: string, serve: Serve): void => {
        const serve$ = new BehaviorSubject<Serve>(serve);
        serving.set(socketPath, serve$);
        let inner: Subscription | undefined;
        let ended = false; // completed during subscribe(), before `inner` was assigned
        inner = project(serve$.asObservable(), socketPath).subscribe({
          next: (value) => subscriber.next(value),
          error: (err: unknown) => subscriber.error(err), // the teardown below ends the others
          complete: () => {
            ended = true;
            if (inner !== undefined) inners.delete(inner);
            completeIfDone();
          },
        });
        if (!ended && !subscriber.closed) inners.add(inner);
      };

      const stop = (socketPath: string): void => {
        const serve$ = serving.get(socketPath);
        serving.delete(socketPath);
        serve$?.complete();
      };

      const source = serveSet$.subscribe({
        next: (serveSet) => {
          const changes = serveSetChanges(previous, serveSet);
          previous = serveSet;
          wanted = new Map(serveSet.map((serve) => [serve.socketPath, serve]));
          for (const change of changes) {
            if (subscriber.closed) return;
            if (change.kind === 'stop') stop(change.socketPath);
            else enqueue(() => catchUp(change.socketPath));
          }
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          sourceDone = true;
          for (const withdraw of pending) withdraw(); // never started, or stopping below anyway
          pending.clear();
          for (const socketPath of [...serving.keys()]) stop(socketPath);
          completeIfDone();
        },
      });

      return () => {
        source.unsubscribe();
        for (const withdraw of pending) withdraw();
        pending.clear();
        const running = [...inners];
        inners.clear();
        for (const inner of running) inner.unsubscribe();
        serving.clear();
      };
    });
}
