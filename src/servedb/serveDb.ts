// The serve database as observables: the set in force (serveSet$) and what happened to each
// serves.new (outcome$). Start-up is strict (a missing directory or an unusable serves.loaded
// stops the collector with one clear line); running is forgiving (a bad serves.new is
// rejected, an I/O failure is reported, and the next look tries again).
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import * as path from 'node:path';
import * as E from 'fp-ts/Either';
import { BehaviorSubject, catchError, concat, defer, EMPTY, finalize, from, type Observable, of, ReplaySubject, startWith } from '../rx';
import { octal, ownedByUsOrRoot, ownUid, untrustedWayTo, writableByOthers } from '../pathTrust';
import { coalescePasses } from './coalesce';
import { describeFsError, errnoCode, ServeDbError } from './errors';
import type { ServeDbEvent } from './events';
import { lockServeDb, type ServeDbLock } from './lock';
import { resolveServeDbOptions, type ServeDbOptions, type ServeDbOptionsInput } from './options';
import { diffServeSets, reloadPass, type ReloadPassContext, type ServesFiles } from './reload';
import type { ServeSet } from './serve';
import { acceptServes, readServesLoaded, recoverAfterCrash, rejectServes, restoreServesNew, SERVES_LOADED, SERVES_NEW, takeServesNew } from './store';
import { parseServes } from './validate';
import { keepRescan, watchServesNew, type LookReason } from './watch';

export interface ServeDb {
  /**
   * The serve set in force: replays the current one to every new subscriber, then emits the
   * whole set again each time an accepted serves.new changed it. Completes on close().
   */
  readonly serveSet$: Observable<ServeSet>;
  /**
   * One event per serves file accepted (serves.loaded at start-up, each serves.new) or rejected,
   * per warning about an accepted one, per rescan that found no serves.new, and per failure.
   * Every subscriber first gets all of start-up's events, in order (a stale lock taken over, the
   * serves.loaded started from, the start-up look at serves.new, all done before openServeDb
   * resolves), then the latest later one, then what follows. Completes on close().
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
  await checkDirectory(dir, options.dirSetting);
  const lock = await lockServeDb(dir, options.dirSetting, options.scheduler); // before anything reads or writes: one collector per directory
  try {
    return await openLocked(options, lock);
  } catch (err) {
    await lock.release();
    throw err;
  }
}

async function openLocked(options: ServeDbOptions, lock: ServeDbLock): Promise<ServeDb> {
  const dir = options.dir;
  const loaded = await loadServesLoaded(dir, options.logplexUrl);
  await recoverOrExplain(dir);
  const serveSet = new BehaviorSubject<ServeSet>(loaded ?? []);
  const looks = new Looks(options, lock, loaded, serveSet);
  await looks.start();
  let closed: Promise<void> | undefined;
  return {
    serveSet$: serveSet.asObservable(),
    outcome$: looks.outcome$,
    rescan: () => looks.rescan(),
    close: () =>
      (closed ??= (async () => {
        await looks.close();
        await lock.release();
      })()),
  };
}

/** Finishes what a crash left half done (store.ts), or says what keeps it from reading the directory. */
async function recoverOrExplain(dir: string): Promise<void> {
  try {
    await recoverAfterCrash(dir);
  } catch (err) {
    throw new ServeDbError('SERVEDB_UNREADABLE', `cannot list serve database ${dir} (${describeFsError(err)}): check its permissions`, {
      cause: err,
    });
  }
}

/**
 * The looks at serves.new: the start-up look, then one per file event, poll and rescan, never two
 * at once (coalesce.ts), and what each said. Its phase:
 *   starting (until the start-up look finished: its events join start-up's) → running → closing
 *   (no new look begins; the one under way finishes, then outcome$ completes).
 */
class Looks {
  #phase: 'starting' | 'running' | 'closing' = 'starting';
  // What start-up found, in order (a stale lock taken over, the serves.loaded started from, the
  // start-up look at serves.new), told to every subscriber; then what later looks say, of which
  // a late subscriber gets the latest.
  readonly #startup: ServeDbEvent[] = [];
  readonly #later = new ReplaySubject<ServeDbEvent>(1);
  readonly #watcher: ReturnType<typeof watchServesNew>;
  readonly #context: ReloadPassContext;
  #startupLookDone: () => void = () => undefined;
  #passesDone: () => void = () => undefined;
  readonly #stopped = new Promise<void>((resolve) => (this.#passesDone = resolve));

  constructor(
    private readonly options: ServeDbOptions,
    lock: ServeDbLock,
    loaded: ServeSet | undefined,
    private readonly serveSet: BehaviorSubject<ServeSet>, // completed by close()
  ) {
    const dir = options.dir;
    if (lock.staleTakenOver !== undefined) this.#startup.push({ kind: 'serve_db_lock_taken_over', level: 'warn', dir, stale_pid: lock.staleTakenOver });
    if (loaded !== undefined) this.#startup.push(loadedAccepted(dir, loaded));
    this.#watcher = watchServesNew({
      dir,
      pollIntervalMs: options.pollIntervalMs,
      watchEvents: options.watchEvents,
      settleMs: options.settleMs,
      readyTimeoutMs: options.watchReadyTimeoutMs,
      scheduler: options.scheduler,
      onWatchError: (err) =>
        this.#later.next({
          kind: 'serves_error',
          level: 'warn',
          dir,
          during: 'watch',
          error: `file events for ${dir} failed (${err.message}); still looking every ${options.pollIntervalMs} ms`,
        }),
    });
    this.#context = {
      dir,
      files: directoryFiles(dir),
      parseOptions: { logplexUrl: options.logplexUrl, fileName: SERVES_NEW },
      current: () => this.serveSet.value,
      apply: (set) => this.serveSet.next(set),
    };
  }

  /** Every subscriber gets all of start-up's events, then the latest later one, then what follows. */
  get outcome$(): Observable<ServeDbEvent> {
    return concat(from(this.#startup), this.#later);
  }

  /** Starts looking; resolves once the start-up look is done. */
  async start(): Promise<void> {
    const started = new Promise<void>((resolve) => (this.#startupLookDone = resolve));
    await this.#watcher.ready; // so that nothing written after the start-up look goes unnoticed
    this.#watcher.look$
      .pipe(
        startWith<LookReason>('start'),
        coalescePasses((reason) => this.#pass(reason), keepRescan),
      )
      .subscribe({
        next: (event) => (this.#phase === 'starting' ? this.#startup.push(event) : this.#later.next(event)),
        complete: () => this.#passesDone(),
      });
    await started;
  }

  rescan(): void {
    this.#watcher.rescan();
  }

  /** Stops watching and polling, lets a look under way finish, completes the serve set and outcome$. */
  async close(): Promise<void> {
    this.#phase = 'closing';
    await this.#watcher.close(); // ends look$; the pass under way (if any) still finishes
    await this.#stopped;
    this.serveSet.complete();
    this.#later.complete();
  }

  #pass(reason: LookReason): Observable<ServeDbEvent> {
    const { dir } = this.options;
    return defer(() => (this.#phase === 'closing' ? EMPTY : reloadPass(reason, this.#context))).pipe(
      // reloadPass reports what it expects; anything else must not end the stream of looks.
      catchError((err: unknown) =>
        of<ServeDbEvent>({ kind: 'serves_error', level: 'error', dir, during: 'pass', error: `looking at ${path.join(dir, SERVES_NEW)} failed: ${describeFsError(err)}` }),
      ),
      // The first pass to finish is the start-up look (it starts first, and passes never
      // overlap); start() resolves after it. Later calls resolve nothing new.
      finalize(() => {
        if (this.#phase === 'starting') this.#phase = 'running';
        this.#startupLookDone();
      }),
    );
  }
}

/** The set start-up found in serves.loaded, said as what it is: the set in force from now on. */
function loadedAccepted(dir: string, loaded: ServeSet): ServeDbEvent {
  const diff = diffServeSets([], loaded);
  return { kind: 'serves_accepted', level: 'info', dir, file: SERVES_LOADED, serves: loaded.length, added: diff.added, removed: 0, updated: 0, changed: true, reason: 'start' };
}

/** The pass's file operations on the real directory (store.ts). */
function directoryFiles(dir: string): ServesFiles {
  return {
    take: () => defer(() => takeServesNew(dir)),
    accept: (text, taken) => defer(() => acceptServes(dir, text, taken)),
    reject: (error, taken) => defer(() => rejectServes(dir, error, taken)),
    restore: (taken) => defer(() => restoreServesNew(dir, taken)),
    turn: () => defer(turn),
  };
}

/** Resolves once the event loop has turned: I/O (every tenant's socket) is served first. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** `setting`: how the caller named the directory (SERVE_DB_DIR, serveDbDir), for the way out. */
async function checkDirectory(dir: string, setting: string): Promise<void> {
  let stats;
  try {
    stats = await stat(dir);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT') {
      throw new ServeDbError('SERVEDB_MISSING_DIR', `serve database ${dir} does not exist: create it (mkdir -p ${dir}) or point ${setting} at the right directory`, { cause: err });
    }
    if (code === 'ENOTDIR') {
      throw new ServeDbError('SERVEDB_NOT_A_DIR', `serve database ${dir}: part of the path is a file, not a directory; point ${setting} at a directory`, { cause: err });
    }
    throw new ServeDbError('SERVEDB_UNREADABLE', `cannot open serve database ${dir} (${describeFsError(err)}): check its permissions`, { cause: err });
  }
  if (!stats.isDirectory()) {
    throw new ServeDbError('SERVEDB_NOT_A_DIR', `serve database ${dir} is not a directory: point ${setting} at a directory`);
  }
  try {
    // The collector renames and writes files here; better to say so now than at the first reload.
    await access(dir, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (err) {
    throw new ServeDbError('SERVEDB_UNREADABLE', `serve database ${dir} must be readable and writable by this user (${describeFsError(err)}): check its owner and permissions`, { cause: err });
  }
  // Whoever may write here decides where logs go and with which token, and which socket paths we
  // bind: this user and root only (README, Security and trust).
  const unsafe = (at: string, what: string, fix: string): ServeDbError =>
    new ServeDbError('SERVEDB_UNSAFE', `serve database ${at} ${what}, so another user could choose where logs and tokens go: ${fix}`);
  if (!ownedByUsOrRoot(stats)) throw unsafe(dir, `belongs to uid ${stats.uid}`, `chown it to this daemon's user (uid ${ownUid() ?? '?'}) or root`);
  if (writableByOthers(stats)) throw unsafe(dir, `is writable by group or others (mode ${octal(stats.mode)})`, `chmod go-w ${dir}`);
  let way;
  try {
    way = await untrustedWayTo(dir);
  } catch (err) {
    throw new ServeDbError('SERVEDB_UNREADABLE', `cannot check the way to serve database ${dir} (${describeFsError(err)}): check its permissions`, { cause: err });
  }
  if (way !== undefined) throw unsafe(way.path === path.resolve(dir) ? dir : `${dir}: ${way.path}`, way.what, way.fix);
}

/** The set to start from: serves.loaded's, or undefined for a fresh database (none yet). */
async function loadServesLoaded(dir: string, logplexUrl: URL | undefined): Promise<ServeSet | undefined> {
  const file = path.join(dir, SERVES_LOADED);
  let text: string | undefined;
  try {
    text = await readServesLoaded(dir);
  } catch (err) {
    throw new ServeDbError('SERVEDB_UNREADABLE', `cannot read ${file} (${describeFsError(err)}): check its permissions`, { cause: err });
  }
  if (text === undefined) return undefined;
  const parsed = parseServes(text, { logplexUrl, fileName: SERVES_LOADED });
  if (E.isRight(parsed)) return parsed.right;
  const { problems } = parsed.left;
  const shown = problems.slice(0, 3).join('; ') + (problems.length > 3 ? `; and ${problems.length - 3} more` : '');
  throw new ServeDbError(
    'SERVEDB_CORRUPT_LOADED',
    `cannot start from ${file}: ${shown}. Fix it, or move it away to start with no serves (serves.new is applied next)`,
  );
}
