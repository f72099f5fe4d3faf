// The serve database as observables: the set in force (serveSet$) and what happened to each
// serves.new (outcome$). Start-up is strict (a missing directory or an unusable serves.loaded
// stops the collector with one clear line); running is forgiving (a bad serves.new is
// rejected, an I/O failure is reported, and the next look tries again).
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import * as path from 'node:path';
import * as E from 'fp-ts/Either';
import { BehaviorSubject, catchError, concat, defer, finalize, from, mergeMap, type Observable, of, ReplaySubject, startWith } from '../rx';
import { coalescePasses } from './coalesce';
import { describeFsError, errnoCode, ServeDbError } from './errors';
import type { ServeDbEvent, ServesErrorEvent } from './events';
import { lockServeDb, type ServeDbLock } from './lock';
import { resolveServeDbOptions, type ServeDbOptions, type ServeDbOptionsInput } from './options';
import { decideParsed, type ReloadOutcome } from './reload';
import type { ServeSet } from './serve';
import {
  acceptServes,
  readServesLoaded,
  recoverAfterCrash,
  rejectServes,
  restoreServesNew,
  SERVES_LOADED,
  SERVES_NEW,
  takeServesNew,
  type TakenServes,
} from './store';
import { parseServes } from './validate';
import { watchServesNew, type LookReason } from './watch';

export interface ServeDb {
  /**
   * The serve set in force: replays the current one to every new subscriber, then emits the
   * whole set again each time an accepted serves.new changed it. Completes on close().
   */
  readonly serveSet$: Observable<ServeSet>;
  /**
   * One event per serves.new accepted or rejected, per warning about an accepted one, and per
   * failure. Replays the latest event to a new subscriber, so the outcome of the start-up look at
   * serves.new (done before openServeDb resolves) is not lost, after what start-up itself found
   * (a stale lock taken over). Completes on close().
   */
  readonly outcome$: Observable<ServeDbEvent>;
  /** Look at serves.new now (SIGHUP). Coalesced with any look already under way. */
  rescan(): void;
  /** Stops watching and polling, lets a look under way finish, completes both observables, releases the lock. */
  close(): Promise<void>;
}

/**
 * Opens the serve database: checks the directory, loads serves.loaded (or starts empty), then
 * applies serves.new if there is one, and watches for the next. Rejects with a ServeDbError when
 * the collector must not start.
 */
export async function openServeDb(input: ServeDbOptionsInput): Promise<ServeDb> {
  const options = resolveServeDbOptions(input);
  const dir = options.dir;
  await checkDirectory(dir);
  const lock = await lockServeDb(dir); // before anything reads or writes: one collector per directory
  try {
    return await openLocked(options, lock);
  } catch (err) {
    await lock.release();
    throw err;
  }
}

async function openLocked(options: ServeDbOptions, lock: ServeDbLock): Promise<ServeDb> {
  const dir = options.dir;
  const initial = await loadServesLoaded(dir, options.logplexUrl);
  try {
    await recoverAfterCrash(dir);
  } catch (err) {
    throw new ServeDbError('SERVEDB_UNREADABLE', `cannot list serve database ${dir} (${describeFsError(err)}): check its permissions`, {
      cause: err,
    });
  }

  const serveSet = new BehaviorSubject<ServeSet>(initial);
  const outcome = new ReplaySubject<ServeDbEvent>(1);
  // What start-up itself found, told to every subscriber before the replayed outcome.
  const startupNotices: ServeDbEvent[] =
    lock.staleTakenOver === undefined
      ? []
      : [{ kind: 'serve_db_lock_taken_over', level: 'warn', dir, stale_pid: lock.staleTakenOver }];
  const parseOptions = { logplexUrl: options.logplexUrl, fileName: SERVES_NEW };
  let current = initial;
  let closing = false;

  const failure = (during: ServesErrorEvent['during'], error: string, level: 'warn' | 'error' = 'error'): ServesErrorEvent => ({
    kind: 'serves_error',
    level,
    dir,
    during,
    error,
  });
  const newFile = path.join(dir, SERVES_NEW);

  const watcher = watchServesNew({
    dir,
    pollIntervalMs: options.pollIntervalMs,
    watchEvents: options.watchEvents,
    settleMs: options.settleMs,
    readyTimeoutMs: options.watchReadyTimeoutMs,
    onWatchError: (err) =>
      outcome.next(
        failure('watch', `file events for ${dir} failed (${err.message}); still looking every ${options.pollIntervalMs} ms`, 'warn'),
      ),
  });

  /** One look: take serves.new, decide, apply, and leave the directory consistent. */
  const runPass = async (reason: LookReason): Promise<ServeDbEvent[]> => {
    if (closing) return [];
    let file: TakenServes;
    try {
      file = await takeServesNew(dir);
    } catch (err) {
      return [failure('read', `cannot read ${newFile} (${describeFsError(err)})`)];
    }
    // The common case: looking is idempotent. Said only when someone asked for the look (SIGHUP),
    // so that their request has an outcome in the log; polls stay silent.
    if (file.kind === 'absent') return reason === 'rescan' ? [{ kind: 'serves_unchanged', level: 'info', dir, serves: current.length, reason }] : [];
    // Parsing a large serves.new, comparing it with the set in force, and starting on its serves
    // are each long stretches of work: the event loop turns between them, reading every tenant's
    // socket. For 10,000 serves all three in one task held it 48-60 ms (bench:serves), past the
    // 50 ms a backend may wait. The pass still finishes once begun (close() waits for it).
    let decision: ReloadOutcome;
    if (file.kind === 'new') {
      const parsed = parseServes(file.text, parseOptions);
      await turn();
      decision = decideParsed(current, file.text, parsed);
    } else {
      decision = { kind: 'rejected', invalid: { problems: [file.problem] }, error: file.problem };
    }
    if (decision.kind === 'accepted') {
      // The spec's order: apply, then copy. Should the copy fail, serves.new is put back, and the
      // next look accepts it again (unchanged, so nothing is re-applied) and retries the copy.
      if (decision.changed) {
        await turn();
        current = decision.serveSet;
        serveSet.next(current);
      }
      try {
        await acceptServes(dir, decision.text, file.taken);
      } catch (err) {
        await restoreServesNew(dir, file.taken).catch(() => undefined); // reported below either way
        return [
          failure('accept', `applied ${newFile} but could not write ${SERVES_LOADED} (${describeFsError(err)}); will retry`),
        ];
      }
      const warnings = decision.changed ? decision.warnings : []; // said once, when it took effect
      return [
        {
          kind: 'serves_accepted',
          level: 'info',
          dir,
          serves: current.length,
          added: decision.diff.added,
          removed: decision.diff.removed,
          updated: decision.diff.updated,
          changed: decision.changed,
          reason,
        },
        ...warnings.map((warning): ServeDbEvent => ({ kind: 'serves_warning', level: 'warn', dir, warning })),
      ];
    }
    if (decision.kind === 'rejected') {
      try {
        await rejectServes(dir, decision.error, file.taken);
      } catch (err) {
        await restoreServesNew(dir, file.taken).catch(() => undefined);
        return [failure('reject', `rejected ${newFile} but could not move it aside (${describeFsError(err)}); will retry`)];
      }
      return [
        {
          kind: 'serves_rejected',
          level: 'error',
          dir,
          problems: decision.invalid.problems.length,
          error: decision.error,
          serves: current.length,
          reason,
        },
      ];
    }
    return [];
  };

  const pass = (reason: LookReason): Observable<ServeDbEvent> =>
    defer(() => runPass(reason)).pipe(
      mergeMap((events) => from(events)),
      // runPass reports what it expects; anything else must not end the stream of looks.
      catchError((err: unknown) => of(failure('pass', `looking at ${newFile} failed: ${describeFsError(err)}`))),
      // The first pass to finish is the start-up look (it starts first, and passes never
      // overlap); openServeDb resolves after it. Later calls resolve nothing new.
      finalize(() => startupLookDone()),
    );

  let startupLookDone: () => void = () => undefined;
  const started = new Promise<void>((resolve) => (startupLookDone = resolve));
  let passesDone: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (passesDone = resolve));

  await watcher.ready; // so that nothing written after the start-up look goes unnoticed
  watcher.look$
    .pipe(
      startWith<LookReason>('start'),
      coalescePasses((reason) => pass(reason)),
    )
    .subscribe({
      next: (event) => outcome.next(event),
      complete: () => passesDone(),
    });
  await started;

  let closed: Promise<void> | undefined;
  return {
    serveSet$: serveSet.asObservable(),
    outcome$: concat(from(startupNotices), outcome),
    rescan: () => watcher.rescan(),
    close: () =>
      (closed ??= (async () => {
        closing = true;
        await watcher.close(); // ends look$; the pass under way (if any) still finishes
        await stopped;
        serveSet.complete();
        outcome.complete();
        await lock.release();
      })()),
  };
}

/** Resolves once the event loop has turned: I/O (every tenant's socket) is served first. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function checkDirectory(dir: string): Promise<void> {
  let stats;
  try {
    stats = await stat(dir);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT') {
      throw new ServeDbError('SERVEDB_MISSING_DIR', `serve database ${dir} does not exist: create it (mkdir -p ${dir}) or point SERVE_DB_DIR at the right directory`, { cause: err });
    }
    if (code === 'ENOTDIR') {
      throw new ServeDbError('SERVEDB_NOT_A_DIR', `serve database ${dir}: part of the path is a file, not a directory; point SERVE_DB_DIR at a directory`, { cause: err });
    }
    throw new ServeDbError('SERVEDB_UNREADABLE', `cannot open serve database ${dir} (${describeFsError(err)}): check its permissions`, { cause: err });
  }
  if (!stats.isDirectory()) {
    throw new ServeDbError('SERVEDB_NOT_A_DIR', `serve database ${dir} is not a directory: point SERVE_DB_DIR at a directory`);
  }
  try {
    // The collector renames and writes files here; better to say so now than at the first reload.
    await access(dir, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (err) {
    throw new ServeDbError('SERVEDB_UNREADABLE', `serve database ${dir} must be readable and writable by this user (${describeFsError(err)}): check its owner and permissions`, { cause: err });
  }
}

/** The set to start from: serves.loaded, or empty for a fresh database. */
async function loadServesLoaded(dir: string, logplexUrl: URL | undefined): Promise<ServeSet> {
  const file = path.join(dir, SERVES_LOADED);
  let text: string | undefined;
  try {
    text = await readServesLoaded(dir);
  } catch (err) {
    throw new ServeDbError('SERVEDB_UNREADABLE', `cannot read ${file} (${describeFsError(err)}): check its permissions`, { cause: err });
  }
  if (text === undefined) return [];
  const parsed = parseServes(text, { logplexUrl, fileName: SERVES_LOADED });
  if (E.isRight(parsed)) return parsed.right;
  const { problems } = parsed.left;
  const shown = problems.slice(0, 3).join('; ') + (problems.length > 3 ? `; and ${problems.length - 3} more` : '');
  throw new ServeDbError(
    'SERVEDB_CORRUPT_LOADED',
    `cannot start from ${file}: ${shown}. Fix it, or move it away to start with no serves (serves.new is applied next)`,
  );
}
