// Serve sets that are valid but probably not what the operator meant. They are accepted (the
// spec allows them, and refusing would keep a set the operator wanted gone), and each is logged
// at warn level saying what it means, so that a mistake is seen the first time, not when a
// tenant asks where its logs went.
import type { ServeSet } from './serve';
import { eachInSteps, type Steps } from './steps';

/** At most this many duplicate identities are named; the rest are counted. */
const MAX_DUPLICATES_NAMED = 5;

/** The warnings, as steps (steps.ts): a pass lets the event loop turn between them. */
export function* serveSetWarnings(before: ServeSet, after: ServeSet): Steps<string[]> {
  const warnings: string[] = [];
  if (after.length === 0 && before.length > 0) {
    warnings.push(
      `serves.new lists no serves: all ${before.length} serve${before.length === 1 ? '' : 's'} stopped and their sockets removed; ` +
        'their logs are no longer collected',
    );
  }
  // Serves by index, per identity: one pass, so a set of 100,000 costs a Map, not a sort.
  const byIdentity = new Map<string, number[]>();
  yield* eachInSteps(after, (serve, index) => {
    const seen = byIdentity.get(serve.identity);
    if (seen === undefined) byIdentity.set(serve.identity, [index]);
    else seen.push(index);
  });
  const shared = [...byIdentity.values()].filter((indexes) => indexes.length > 1);
  if (shared.length > 0) {
    // The identity itself is not quoted: it may be long, and naming the entries is enough to find it.
    const named = shared.slice(0, MAX_DUPLICATES_NAMED).map((indexes) => indexes.map((i) => `serves[${i}]`).join(', '));
    const more = shared.length - named.length;
    warnings.push(
      `${named.join('; ')}${more > 0 ? `; and ${more} more group${more === 1 ? '' : 's'}` : ''}: ` +
        'the same identity (i) on more than one socket; a cluster with that identity is accepted on each of them ' +
        "and its logs go to whichever serve's token it connected to, so the identity no longer tells these tenants apart",
    );
  }
  return warnings;
}
