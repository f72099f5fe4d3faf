// Turns "the whole serve set, again, on every reload" into one long-lived inner stream per socket
// path, so that a reload touches only the serves that actually changed: an unchanged serve keeps
// its listener and its open connections (the Go original dropped them all on every reload).
import { Observable, OperatorFunction, ReplaySubject, filter, groupBy, map, mergeMap, scan, takeWhile } from '../rx';
import { serveSetChanges, type Serve, type ServeChange, type ServeSet } from '../servedb/serve';

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
 */
export function rebindOnServeSet<T>(
  project: (serve$: Observable<Serve>, socketPath: string) => Observable<T>,
): OperatorFunction<ServeSet, T> {
  return (serveSet$) =>
    serveSet$.pipe(
      scan(
        (state: { serves: ServeSet; changes: ServeChange[] }, serves: ServeSet) => ({
          serves,
          changes: serveSetChanges(state.serves, serves),
        }),
        { serves: [], changes: [] },
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
