// One tenant as the rest of the collector sees it, after serves.new was validated
// (docs/serve-db.md). Both serve forms (`t` with LOGPLEX_URL, or `url`) are resolved
// here into one shape, so the source and sink never need to know which form was written.
import type { Secret } from '../secret';
import { eachInSteps, runToEnd, type Steps } from './steps';

/** Where and how a serve's records are posted. */
export interface LogplexTarget {
  readonly url: string; // the logplex endpoint with credentials removed: safe to log
  readonly user: string; // basic-auth user: `token` for `t` serves, the URL's user otherwise
  readonly token: Secret; // basic-auth password and syslog APP-NAME
}

export interface Serve {
  readonly identity: string; // `i`: logfebe.identity this socket accepts (not secret)
  readonly socketPath: string; // `p`: absolute path of the unix socket; unique in a serve set
  readonly name: string | undefined; // `name`: label shown in every line, `DATABASE` when absent
  readonly target: LogplexTarget;
}

/** A whole accepted serves file: what the collector should be serving right now. */
export type ServeSet = readonly Serve[];

/** True when two serves would post identically (same endpoint, user, token and label). */
export function sameDelivery(a: Serve, b: Serve): boolean {
  return (
    a.name === b.name &&
    a.target.url === b.target.url &&
    a.target.user === b.target.user &&
    a.target.token.equals(b.target.token)
  );
}

/** True when a and b are the same serve: same socket, identity and delivery. */
export function sameServe(a: Serve, b: Serve): boolean {
  return a.socketPath === b.socketPath && a.identity === b.identity && sameDelivery(a, b);
}

/**
 * True when two serve sets serve the same things. Order does not matter (socket paths are
 * unique in a set), so reordering serves.new is not a change.
 */
export function sameServeSet(a: ServeSet, b: ServeSet): boolean {
  if (a.length !== b.length) return false;
  const bByPath = new Map(b.map((serve) => [serve.socketPath, serve]));
  return a.every((serve) => {
    const other = bByPath.get(serve.socketPath);
    return other !== undefined && sameServe(serve, other);
  });
}

/** What happened to one socket path between two serve sets. */
export type ServeChange =
  | { readonly kind: 'start'; readonly socketPath: string; readonly serve: Serve } // path is new
  | { readonly kind: 'update'; readonly socketPath: string; readonly serve: Serve } // same path, serve differs
  | { readonly kind: 'stop'; readonly socketPath: string }; // path is gone

/**
 * The changes that take `before` to `after`, keyed by socket path: stops first (in `before`'s
 * order), then starts and updates (in `after`'s order); serves equal by `sameServe` produce
 * nothing. The one diff both the reload report (counts) and the source's rebinding (actions) use.
 */
export function serveSetChanges(before: ServeSet, after: ServeSet): ServeChange[] {
  return runToEnd(serveSetChangesInSteps(before, after));
}

/** serveSetChanges as steps (steps.ts), for a pass that lets the event loop turn between them. */
export function* serveSetChangesInSteps(before: ServeSet, after: ServeSet): Steps<ServeChange[]> {
  const beforeByPath = new Map<string, Serve>();
  yield* eachInSteps(before, (serve) => void beforeByPath.set(serve.socketPath, serve));
  const afterPaths = new Set<string>();
  yield* eachInSteps(after, (serve) => void afterPaths.add(serve.socketPath));
  const changes: ServeChange[] = [];
  yield* eachInSteps(before, (serve) => {
    if (!afterPaths.has(serve.socketPath)) changes.push({ kind: 'stop', socketPath: serve.socketPath });
  });
  yield* eachInSteps(after, (serve) => {
    const old = beforeByPath.get(serve.socketPath);
    if (old === undefined) changes.push({ kind: 'start', socketPath: serve.socketPath, serve });
    else if (!sameServe(old, serve)) changes.push({ kind: 'update', socketPath: serve.socketPath, serve });
  });
  return changes;
}
