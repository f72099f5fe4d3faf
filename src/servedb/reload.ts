// One look at serves.new, as the daemon runs it: take the file, decide against the set in force,
// say what was decided, apply it, then leave the directory consistent. Deciding is pure (decide);
// the file operations are injected (ServesFiles: store.ts on the real directory in serveDb.ts,
// cold observables in marbles/servedb/reload.marbles.ts), so the order of what is said, applied
// and written is checked against a diagram on the very code the daemon runs.
//
// The order, and why:
// - `serves_accepted` (and its warnings) first, then the set is applied, then copied to
//   serves.loaded. Applying starts listening at once, and a log that says `listening` before
//   the accept that caused it reads backwards. The copy comes after the apply (docs/serve-db.md);
//   should it fail, serves.new is put back, `serves_error during=accept` says so, and the next
//   look accepts it again (unchanged, so nothing is re-applied) and retries the copy.
// - A rescan (SIGHUP) that finds no serves.new says `serves_unchanged`: an operator who asked
//   gets an answer. A poll or file event that finds none says nothing (looking is idempotent).
import * as path from 'node:path';
import * as E from 'fp-ts/Either';
import { catchError, concat, concatMap, defer, EMPTY, ignoreElements, map, type Observable, of, tap } from '../rx';
import { describeFsError } from './errors';
import type { ServeDbEvent, ServesErrorEvent } from './events';
import { serveSetChanges, serveSetChangesInSteps, type ServeChange, type ServeSet } from './serve';
import { inTurns, runToEnd, type Steps } from './steps';
import { SERVES_LOADED, SERVES_NEW, type TakenServes } from './store';
import { describeInvalid, parseServesInSteps, type ParseServesOptions, type ServesInvalid } from './validate';
import { serveSetWarnings } from './warnings';
import type { LookReason } from './watch';

/** How the serve set changed, by socket path. */
export interface ServeSetDiff {
  readonly added: number; // socket paths new in this set
  readonly removed: number; // socket paths no longer served
  readonly updated: number; // same socket path, different identity, label, endpoint or token
  readonly unchanged: number; // served exactly as before
}

export type ReloadOutcome =
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

/**
 * What a parsed serves.new means given the set in force. Parsing is a separate step (the pass
 * lets the event loop turn in between), so that a large serves.new does not hold every tenant's
 * socket unread through both.
 */
export function decide(current: ServeSet, text: string, parsed: E.Either<ServesInvalid, ServeSet>): ReloadOutcome {
  return runToEnd(decideInSteps(current, text, parsed));
}

/** decide as steps (steps.ts): comparing 10,000 serves with the set in force is many of them. */
export function* decideInSteps(current: ServeSet, text: string, parsed: E.Either<ServesInvalid, ServeSet>): Steps<ReloadOutcome> {
  if (E.isLeft(parsed)) return { kind: 'rejected', invalid: parsed.left, error: describeInvalid(parsed.left) };
  const diff = countChanges(yield* serveSetChangesInSteps(current, parsed.right), parsed.right.length);
  // Socket paths are unique within a set, so no start, stop or update means the same set.
  const changed = diff.added + diff.removed + diff.updated > 0;
  const warnings = yield* serveSetWarnings(current, parsed.right);
  // An unchanged set keeps the object already in force, so subscribers comparing by reference
  // see no change either.
  return { kind: 'accepted', serveSet: changed ? parsed.right : current, changed, diff, text, warnings };
}

export function diffServeSets(before: ServeSet, after: ServeSet): ServeSetDiff {
  return countChanges(serveSetChanges(before, after), after.length);
}

function countChanges(changes: readonly ServeChange[], servesAfter: number): ServeSetDiff {
  let added = 0;
  let removed = 0;
  let updated = 0;
  for (const change of changes) {
    if (change.kind === 'start') added++;
    else if (change.kind === 'stop') removed++;
    else updated++;
  }
  return { added, removed, updated, unchanged: servesAfter - added - updated };
}

/** The serve database's files, as a pass uses them (store.ts; each errors with the fs error). */
export interface ServesFiles {
  /** Takes serves.new (renamed to a private name) and reads it. */
  take(): Observable<TakenServes>;
  /** Copies `text` to serves.loaded durably, then removes serves.rej, last_error and `taken`. */
  accept(text: string, taken: string): Observable<void>;
  /** Writes last_error, then moves `taken` to serves.rej. */
  reject(error: string, taken: string): Observable<void>;
  /** Puts `taken` back as serves.new (unless a newer one is there). */
  restore(taken: string): Observable<void>;
  /** Lets the event loop turn (every tenant's socket is read) between long stretches of work; emits once. */
  turn(): Observable<void>;
}

export interface ReloadPassContext {
  readonly dir: string;
  readonly files: ServesFiles;
  readonly parseOptions: ParseServesOptions;
  readonly current: () => ServeSet; // the set in force
  readonly apply: (set: ServeSet) => void; // puts a changed set in force
}

/** One look: what it says, in order; completes once the directory is consistent again. */
export function reloadPass(reason: LookReason, context: ReloadPassContext): Observable<ServeDbEvent> {
  const { dir, files } = context;
  const newFile = path.join(dir, SERVES_NEW);
  const failure = (during: ServesErrorEvent['during'], error: string): ServesErrorEvent => ({ kind: 'serves_error', level: 'error', dir, during, error });

  const rejectFile = (problems: readonly string[], error: string, taken: string): Observable<ServeDbEvent> =>
    concat(
      files.reject(error, taken).pipe(ignoreElements()),
      of<ServeDbEvent>({ kind: 'serves_rejected', level: 'error', dir, problems: problems.length, error, serves: context.current().length, reason }),
    ).pipe(
      catchError((err: unknown) =>
        restoreThen(failure('reject', `rejected ${newFile} but could not move it aside (${describeFsError(err)}); will retry`), taken),
      ),
    );

  const restoreThen = (event: ServeDbEvent, taken: string): Observable<ServeDbEvent> =>
    concat(files.restore(taken).pipe(ignoreElements(), catchError(() => EMPTY)), of(event)); // reported by `event` either way

  const acceptFile = (decision: Extract<ReloadOutcome, { kind: 'accepted' }>, taken: string): Observable<ServeDbEvent> => {
    const serves = decision.changed ? decision.serveSet.length : context.current().length;
    const accepted: ServeDbEvent = {
      kind: 'serves_accepted',
      level: 'info',
      dir,
      file: 'serves.new',
      serves,
      added: decision.diff.added,
      removed: decision.diff.removed,
      updated: decision.diff.updated,
      changed: decision.changed,
      reason,
    };
    const warnings = decision.changed ? decision.warnings : []; // said once, when it took effect
    const applied = decision.changed ? files.turn().pipe(tap(() => context.apply(decision.serveSet)), ignoreElements()) : EMPTY;
    const copied = files.accept(decision.text, taken).pipe(
      ignoreElements(),
      catchError((err: unknown) =>
        restoreThen(failure('accept', `applied ${newFile} but could not write ${SERVES_LOADED} (${describeFsError(err)}); will retry`), taken),
      ),
    );
    return concat(
      of(accepted, ...warnings.map((warning): ServeDbEvent => ({ kind: 'serves_warning', level: 'warn', dir, warning }))),
      applied,
      copied,
    );
  };

  // Checking and comparing go a step at a time (steps.ts), the loop turning between steps: a
  // serves.new of 10,000 serves is many steps, one of a few serves is one.
  const decideFile = (file: Exclude<TakenServes, { kind: 'absent' }>): Observable<ServeDbEvent> => {
    if (file.kind === 'unusable') return rejectFile([file.problem], file.problem, file.taken);
    return inTurns(() => parseServesInSteps(file.text, context.parseOptions), files.turn).pipe(
      concatMap((parsed) => files.turn().pipe(map(() => parsed))),
      concatMap((parsed) => inTurns(() => decideInSteps(context.current(), file.text, parsed), files.turn)),
      concatMap((decision) =>
        decision.kind === 'accepted' ? acceptFile(decision, file.taken) : rejectFile(decision.invalid.problems, decision.error, file.taken),
      ),
    );
  };

  return defer(() => files.take()).pipe(
    map((file): TakenServes | { readonly kind: 'unreadable'; readonly error: unknown } => file),
    catchError((error: unknown) => of({ kind: 'unreadable' as const, error })),
    concatMap((file): Observable<ServeDbEvent> => {
      if (file.kind === 'unreadable') return of(failure('read', `cannot read ${newFile} (${describeFsError(file.error)})`));
      if (file.kind !== 'absent') return decideFile(file);
      if (reason !== 'rescan') return EMPTY; // the common case: looking is idempotent
      return of({ kind: 'serves_unchanged', level: 'info', dir, serves: context.current().length, reason });
    }),
  );
}
