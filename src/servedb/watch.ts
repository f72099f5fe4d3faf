// When to look at serves.new: a file-system event for it (prompt), a periodic poll (in case
// events are lost: network file systems, editors replacing files) and rescan() (SIGHUP).
// A look is only a hint to read the directory; looking when nothing changed is harmless, so
// triggers are never deduplicated here, only coalesced by the pass that consumes them.
// Every timer (poll, settle, the watcher's ready timeout) runs on the injected scheduler, so
// their timing is a marble diagram (marbles/servedb/looks.marbles.ts).
import * as path from 'node:path';
import { watch } from 'chokidar';
import { debounceTime, interval, map, merge, Observable, type SchedulerLike, Subject, takeUntil, timer } from '../rx';
import { SERVES_NEW } from './store';

/** Why a look was asked for; carried into events to make a log line explainable. */
export type LookReason = 'start' | 'file' | 'poll' | 'rescan';

export interface WatchOptions {
  readonly dir: string;
  readonly pollIntervalMs: number;
  readonly watchEvents: boolean;
  readonly settleMs: number;
  readonly readyTimeoutMs: number; // `ready` resolves by then at the latest (after onWatchError)
  readonly onWatchError: (err: Error) => void; // file events broke; the poll carries on
  readonly scheduler: SchedulerLike; // keeps every timer here
  /** Makes the directory watcher: chokidar (the default), or a stand-in that tests control. */
  readonly startWatcher?: (options: WatchOptions, fileEvent$: Subject<void>) => DirWatcher;
}

/** What we use of chokidar's FSWatcher. */
export interface DirWatcher {
  once(event: 'ready', listener: () => void): unknown;
  once(event: 'error', listener: (err: unknown) => void): unknown;
  close(): Promise<void>;
}

export interface ServesWatch {
  /** Looks requested; the poll starts when this is subscribed. Completes on close(). */
  readonly look$: Observable<LookReason>;
  /**
   * Resolves once file events are being delivered (at once when they are disabled), or when the
   * watcher failed or is not ready within readyTimeoutMs (reported through onWatchError).
   */
  readonly ready: Promise<void>;
  rescan(): void;
  close(): Promise<void>;
}

/**
 * The looks asked for, by reason: a file event once no other came for `settleMs` (an editor's
 * burst is one look), a poll every `pollIntervalMs` from subscription on, a rescan at once.
 */
export function lookReasons(
  fileEvent$: Observable<void>,
  rescan$: Observable<LookReason>,
  timing: Pick<WatchOptions, 'pollIntervalMs' | 'settleMs' | 'scheduler'>,
): Observable<LookReason> {
  const settled$ = timing.settleMs > 0 ? fileEvent$.pipe(debounceTime(timing.settleMs, timing.scheduler)) : fileEvent$;
  const file$ = settled$.pipe(map((): LookReason => 'file'));
  const poll$ = interval(timing.pollIntervalMs, timing.scheduler).pipe(map((): LookReason => 'poll'));
  return merge(file$, poll$, rescan$);
}

/**
 * Which reason the one pass after the current stands for (coalescePasses' `keep`): a rescan
 * waiting outranks a later poll or file event, so that the pass a SIGHUP asked for answers it.
 */
export const keepRescan = (waiting: LookReason, next: LookReason): LookReason => (waiting === 'rescan' ? waiting : next);

export function watchServesNew(options: WatchOptions): ServesWatch {
  const closed$ = new Subject<void>();
  const rescan$ = new Subject<LookReason>();
  const fileEvent$ = new Subject<void>();
  const watcher = options.watchEvents ? (options.startWatcher ?? startWatcher)(options, fileEvent$) : undefined;
  const look$ = lookReasons(fileEvent$, rescan$, options).pipe(takeUntil(closed$));

  let readyTimer: { unsubscribe(): void } | undefined;
  const ready =
    watcher === undefined
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          const late = (readyTimer = timer(options.readyTimeoutMs, options.scheduler).subscribe(() => {
            options.onWatchError(new Error(`not ready after ${options.readyTimeoutMs} ms`));
            resolve();
          }));
          const done = (): void => {
            late.unsubscribe();
            resolve();
          };
          watcher.once('ready', done);
          watcher.once('error', done); // reported by the 'error' listener; the poll carries on
        });

  return {
    look$,
    ready,
    rescan: () => rescan$.next('rescan'),
    close: async () => {
      readyTimer?.unsubscribe(); // closed before ready: no late warning, nothing keeping the process up
      closed$.next();
      closed$.complete();
      rescan$.complete();
      fileEvent$.complete();
      await watcher?.close();
    },
  };
}

function startWatcher(options: WatchOptions, fileEvent$: Subject<void>): DirWatcher {
  const dir = path.resolve(options.dir);
  // chokidar 4 has no globs: we watch the directory itself and ignore every entry but
  // serves.new. That is also what keeps our own writes (serves.loaded, serves.rej, last_error,
  // temporary files) from triggering looks, and so from looping.
  const watcher = watch(dir, {
    depth: 0,
    ignoreInitial: true, // the start-up pass reads what is already there
    ignored: (entry: string) => path.resolve(entry) !== dir && path.basename(entry) !== SERVES_NEW,
  });
  const onServesNew = (entry: string): void => {
    if (path.basename(entry) === SERVES_NEW) fileEvent$.next();
  };
  watcher.on('add', onServesNew);
  watcher.on('change', onServesNew);
  watcher.on('error', (err: unknown) => options.onWatchError(err instanceof Error ? err : new Error(String(err))));
  return watcher;
}
