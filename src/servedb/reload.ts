// The pure heart of reloading: what was read from serves.new, and the serve set in force, decide
// what happens. No I/O and no clock, so marble tests can check it against a diagram
// (marbles/servedb/reload.marbles.ts).
//
// `decide` is one step; `reload` folds it over a stream of reads. serveDb.ts runs `decide` inside
// its serialized pass rather than piping through `reload`, because the step's consequences on
// disk (serves.loaded written, serves.new renamed) must finish before the next read.
import type { Observable, OperatorFunction } from '../rx';
import { filter, map, scan } from '../rx';
import * as E from 'fp-ts/Either';
import { sameServeSet, serveSetChanges, type ServeChange, type ServeSet } from './serve';
import { describeInvalid, parseServes, type ParseServesOptions, type ServesInvalid } from './validate';
import { serveSetWarnings } from './warnings';

/** What one look at the directory found. */
export type ServesRead =
  | { readonly kind: 'absent' } // no serves.new: nothing to do (looking again is harmless)
  | { readonly kind: 'new'; readonly text: string }; // serves.new's content

/** How the serve set changed, by socket path. */
export interface ServeSetDiff {
  readonly added: number; // socket paths new in this set
  readonly removed: number; // socket paths no longer served
  readonly updated: number; // same socket path, different identity, label, endpoint or token
  readonly unchanged: number; // served exactly as before
}

export type ReloadOutcome =
  | { readonly kind: 'absent' }
  | {
      readonly kind: 'accepted';
      readonly serveSet: ServeSet; // the set now in force
      readonly changed: boolean; // false when serves.new said what was already served
      readonly diff: ServeSetDiff;
      readonly text: string; // the accepted text, to be copied to serves.loaded as is
      readonly warnings: readonly string[]; // allowed, but likely not what was meant (warnings.ts)
    }
  | {
      readonly kind: 'rejected';
      readonly invalid: ServesInvalid;
      readonly error: string; // the problems one per line, as written to last_error
    };

/** One step: the outcome of a read given the set in force. */
export function decide(current: ServeSet, read: ServesRead, options: ParseServesOptions): ReloadOutcome {
  if (read.kind === 'absent') return { kind: 'absent' };
  return decideParsed(current, read.text, parseServes(read.text, options));
}

/**
 * The same step once the text is parsed: decide() is parseServes() then this. serveDb.ts runs
 * them as two tasks, the event loop turning in between, so that a large serves.new does not hold
 * every tenant's socket unread through both.
 */
export function decideParsed(current: ServeSet, text: string, parsed: ReturnType<typeof parseServes>): ReloadOutcome {
  if (E.isLeft(parsed)) return { kind: 'rejected', invalid: parsed.left, error: describeInvalid(parsed.left) };
  const changed = !sameServeSet(current, parsed.right);
  // An unchanged set keeps the object already in force, so subscribers comparing by reference
  // see no change either.
  return {
    kind: 'accepted',
    serveSet: changed ? parsed.right : current,
    changed,
    diff: diffServeSets(current, parsed.right),
    text,
    warnings: serveSetWarnings(current, parsed.right),
  };
}

/** The set in force after an outcome. */
export function serveSetAfter(current: ServeSet, outcome: ReloadOutcome): ServeSet {
  return outcome.kind === 'accepted' ? outcome.serveSet : current;
}

/** Reads to outcomes, keeping the set in force from `initial` on. */
export function reload(initial: ServeSet, options: ParseServesOptions): OperatorFunction<ServesRead, ReloadOutcome> {
  return (read$: Observable<ServesRead>) =>
    read$.pipe(
      scan(
        (state: { current: ServeSet; outcome: ReloadOutcome | undefined }, read: ServesRead) => {
          const outcome = decide(state.current, read, options);
          return { current: serveSetAfter(state.current, outcome), outcome };
        },
        { current: initial, outcome: undefined },
      ),
      map((state) => state.outcome),
      filter((outcome): outcome is ReloadOutcome => outcome !== undefined),
    );
}

/** The serve sets to apply: one per accepted outcome that changed something. */
export function appliedServeSets(): OperatorFunction<ReloadOutcome, ServeSet> {
  return (outcome$) =>
    outcome$.pipe(
      filter((o): o is Extract<ReloadOutcome, { kind: 'accepted' }> => o.kind === 'accepted' && o.changed),
      map((o) => o.serveSet),
    );
}

export function diffServeSets(before: ServeSet, after: ServeSet): ServeSetDiff {
  const changes = serveSetChanges(before, after);
  const count = (kind: ServeChange['kind']): number => changes.filter((c) => c.kind === kind).length;
  const added = count('start');
  const updated = count('update');
  return { added, removed: count('stop'), updated, unchanged: after.length - added - updated };
}
