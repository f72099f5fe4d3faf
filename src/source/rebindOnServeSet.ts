// Turns "the whole serve set, again, on every reload" into one long-lived inner stream per socket
// path, so that a reload touches only the serves that actually changed: an unchanged serve keeps
// its listener and its open connections (the Go original dropped them all on every reload).
import { Observable, OperatorFunction, ReplaySubject, filter, groupBy, map, mergeMap, scan, takeWhile } from 'rxjs';
import { sameDelivery, type Serve, type ServeSet } from '../servedb/serve';

/** What happened to one socket path between two serve sets. */
export type ServeChange =
  | { readonly kind: 'start'; readonly socketPath: string; readonly serve: Serve } // path is new
  | { readonly kind: 'update'; readonly socketPath: string; readonly serve: Serve } // same path, serve differs
  | { readonly kind: 'stop'; readonly socketPath: string }; // path is gone

/** True when `next` must be pushed to a running serve: anything a record or the check depends on. */
export function serveChanged(prev: Serve, next: Serve): boolean {
  return prev.identity !== next.identity || !sameDelivery(prev, next);
}

/**
 * The changes that take `prev` to `next`, keyed by socket path: stops first (in `prev`'s order),
 * then starts and updates (in `next`'s order). Serves equal by `serveChanged` produce nothing, so
 * re-emitting the same set is free. Socket paths are unique in a valid serve set; if one is
 * repeated anyway, the last serve with that path wins.
 */
export function diffServeSets(prev: ReadonlyMap<string, Serve>, next: ReadonlyMap<string, Serve>): ServeChange[] {
  const changes: ServeChange[] = [];
  for (const socketPath of prev.keys()) {
    if (!next.has(socketPath)) changes.push({ kind: 'stop', socketPath });
  }
  for (const [socketPath, serve] of next) {
    const old = prev.get(socketPath);
    if (old === undefined) changes.push({ kind: 'start', socketPath, serve });
    else if (serveChanged(old, serve)) changes.push({ kind: 'update', socketPath, serve });
  }
  return changes;
}

const byPath = (serveSet: ServeSet): Map<string, Serve> => new Map(serveSet.map((s) => [s.socketPath, s]));

/**
 * For each socket path in the incoming serve sets, runs `project(serve$, socketPath)` once and
 * merges what it emits.
 *
 * - A path that appears calls `project`. `serve$` replays the path's current serve to every
 *   subscriber (also late ones) and then emits each changed serve (`serveChanged`: identity,
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
 */
export function rebindOnServeSet<T>(
  project: (serve$: Observable<Serve>, socketPath: string) => Observable<T>,
): OperatorFunction<ServeSet, T> {
  return (serveSet$) =>
    serveSet$.pipe(
      scan(
        (state: { serves: Map<string, Serve>; changes: ServeChange[] }, serveSet: ServeSet) => {
          const serves = byPath(serveSet);
          return { serves, changes: diffServeSets(state.serves, serves) };
        },
        { serves: new Map<string, Serve>(), changes: [] },
      ),
      mergeMap((state) => state.changes),
      groupBy((change) => change.socketPath, {
        // A stop ends the group, so a path that comes back later starts a fresh one.
        duration: (group) => group.pipe(filter((change) => change.kind === 'stop')),
        // Replays the latest change, so `project` may subscribe to serve$ whenever it likes.
        connector: () => new ReplaySubject<ServeChange>(1),
      }),
      mergeMap((group) =>
        project(
          group.pipe(
            takeWhile((change): change is Exclude<ServeChange, { kind: 'stop' }> => change.kind !== 'stop'),
            map((change) => change.serve),
          ),
          group.key,
        ),
      ),
    );
}
