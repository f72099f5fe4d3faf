// The collector as a library: serve database → socket source → logplex sink, wired once, with
// the stream of records, events and stats open to whoever embeds it. The daemon is a thin shell
// around this (daemon/main.ts).
//
//   serveDb.serveSet$ ─takeUntil(stop)─ socketSource ─ record$ ─ logplexSink ─ stats$
//          │                               │                         │
//          └──── outcome events ───────────┴──── events ─────────────┴──→ event$
import { asyncScheduler, BehaviorSubject, Observable, ReplaySubject, Subject, Subscription, takeUntil, tap } from './rx';
import { packageVersion } from './packageVersion';
import type { EventBase } from './events';
import { FirstServeSet } from './firstServeSet';
import { resolveFormatOptions } from './format/options';
import { DEFAULT_COLLECTOR_OPTIONS, type CollectorOptions } from './options';
import { openServeDb, type ServeDb, type ServeDbEvent } from './servedb';
import { resolveServeDbOptions } from './servedb/options';
import type { ServeSet } from './servedb/serve';
import { logplexSink, resolveSinkOptions, sinkFormatter, type SinkEvent, type SinkStats } from './sink';
import { zeroCounters } from './sink/stats';
import { warmPostPath } from './sink/post';
import { eachRecord, socketSource, type SourceEvent, type SourcedRecord } from './source';
import { resolveSourceOptions } from './source/options';
import type { SpoolEvent } from './spool/events';
import { resolveSpoolOptions } from './spool/options';
import { SpoolStore } from './spool/store';
import { unrefScheduler } from './unrefScheduler';
import { within } from './within';

/** The collector's own lifecycle, beside what the stages report. */
export type LifecycleEvent =
  | {
      readonly kind: 'started';
      readonly level: 'info';
      readonly version: string; // this package's version, so that a log says which build wrote it
      readonly serves: number;
      readonly serve_db: string;
      readonly open_files_limit: number | undefined; // the process's (soft) open-file limit; undefined when unknown
      readonly fd_reserve: number; // descriptors kept free of listeners and connections, for posts and the serve db
    }
  | { readonly kind: 'stopping'; readonly level: 'info'; readonly timeout_ms: number }
  | {
      readonly kind: 'stopped';
      readonly level: 'info';
      // Everything read was delivered (or waits in the spool), apart from lines tenants' logplex
      // refused: those are the tenant's to fix (a revoked token), not a failure of the collector.
      readonly delivered_all: boolean;
      readonly refused_lines?: number; // lines tenants' logplex refused over the run (401/403/404/422; per serve in the stats); absent when none
      // With a spool: batches logplex did not take, kept on disk for the next start (not lost, so
      // delivered_all can be true while they wait); absent without one.
      readonly spooled_batches?: number;
      readonly spooled_bytes?: number;
      readonly serve_db_closed: boolean; // false: a look at serves.new was still under way, and abandoned
      readonly duration_ms: number;
    }
  | {
      readonly kind: 'shutdown_timeout';
      readonly level: 'error';
      readonly timeout_ms: number;
      readonly queued_bytes: number; // what was still undelivered and is now lost
      readonly queued_lines: number; // the same in log lines (frames), over all serves
    }
  | {
      // One per serve that still held lines at a shutdown timeout.
      readonly kind: 'lines_abandoned';
      readonly level: 'error';
      readonly serve: string | undefined;
      readonly socket: string;
      readonly lines: number; // log lines (frames) undelivered and now lost
      readonly bytes: number;
    };

export type CollectorEvent = ServeDbEvent | SourceEvent | SinkEvent | SpoolEvent | LifecycleEvent;

/** The sink's counters plus what only the collector sees. */
export interface CollectorStats extends SinkStats {
  readonly connections: number; // PostgreSQL connections open right now, over all serves
}

export interface Collector {
  /** Every record accepted from PostgreSQL, tagged with its serve (hot: subscribe before start()). */
  readonly record$: Observable<SourcedRecord>;
  /** Connects, disconnects, reloads, rejects, drops, post failures, lifecycle (hot). */
  readonly event$: Observable<CollectorEvent>;
  /**
   * Latest counters; replays the current value to each subscriber, also after stop() (then the
   * counters at the stop, and completion).
   */
  readonly stats$: Observable<CollectorStats>;
  /** The serve set in force (replays the current one); empty before start(). */
  readonly serveSet$: Observable<ServeSet>;
  /**
   * Opens the serve database (its serves.loaded, then any serves.new) and starts listening.
   * Resolves once every serve of that first set listens (its socket file is there and accepts
   * connections) or has failed with its reason (a `listen_error` event: it is retried every
   * `source.listenRetryMs`), and `started` has been emitted; or early, when stop() is called
   * meanwhile. Rejects (e.g. ServeDbError) when the serve database cannot be opened.
   */
  start(): Promise<void>;
  /** Re-reads the serve database now (what SIGHUP does). */
  reload(): void;
  /**
   * Graceful stop: stop listening (socket files removed), read what PostgreSQL already sent,
   * deliver every batch, then resolve. After shutdownTimeoutMs whatever is left is abandoned
   * (and reported). Safe to call more than once.
   */
  stop(): Promise<void>;
}

const emptyStats = (): CollectorStats => ({ ...zeroCounters(), spoolBytes: 0, spoolBatches: 0, spoolOldestAgeMs: 0, serves: [], connections: 0 });

/**
 * Frames that will never reach logplex through a fault of ours or of logplex: dropped at a buffer
 * cap, or in batches given up, except those a tenant's logplex refused (its token, its app).
 */
const undelivered = (s: CollectorStats): number => s.dropped + s.lost - s.refused;

export function createCollector(options: CollectorOptions): Collector {
  // Resolve every stage's options now, so a bad option fails here, before anything starts.
  const logplexUrl = typeof options.logplexUrl === 'string' ? new URL(options.logplexUrl) : options.logplexUrl;
  // Each stage gets the embedder's scheduler, or picks its own default (some timers are unref'd).
  const scheduler = options.scheduler;
  const clock = scheduler ?? asyncScheduler; // the stop's deadline
  // Errors about the directory name the option the embedder set, unless told otherwise (the daemon).
  const serveDbOptions = resolveServeDbOptions({
    dirSetting: 'serveDbDir',
    ...(scheduler === undefined ? {} : { scheduler }),
    ...options.serveDb,
    dir: options.serveDbDir,
    logplexUrl,
  });
  const sourceOptions = resolveSourceOptions(options.source);
  const formatter = sinkFormatter(resolveFormatOptions(options.format));
  const sinkOptions = resolveSinkOptions(options.sink);
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? DEFAULT_COLLECTOR_OPTIONS.shutdownTimeoutMs;
  const spoolOptions = options.spool === undefined ? undefined : resolveSpoolOptions(options.spool);

  const events = new Subject<CollectorEvent>();
  const records = new Subject<SourcedRecord>();
  // A ReplaySubject, not a BehaviorSubject: it replays the last counters after stop() completed
  // it too, which is when an embedder most wants them. `latest` is what the collector reads.
  let latest = emptyStats();
  const stats = new ReplaySubject<CollectorStats>(1);
  stats.next(latest);
  const publishStats = (s: CollectorStats): void => {
    latest = s;
    stats.next(s);
  };
  const serveSets = new BehaviorSubject<ServeSet>([]);
  const emit = (event: CollectorEvent): void => events.next(event);

  const firstSet = new FirstServeSet();
  let connections = 0;
  let warmed = false;
  const onSourceEvent = (event: SourceEvent): void => {
    firstSet.sourceEvent(event);
    if (event.kind === 'connect') connections += 1;
    if (event.kind === 'connect' && !warmed) {
      warmed = true;
      clock.schedule(warmPostPath); // after the connection's first read, not in its way
    }
    const ended = event.kind === 'disconnect' || event.kind === 'identity_mismatch' || event.kind === 'protocol_error';
    if (ended && event.identified) connections -= 1; // only those that had logged `connect`
    emit(event);
  };

  // What start() opened, and the promises of what it is opening: stop() closes either, also what
  // finishes opening after the stop began.
  let serveDb: ServeDb | undefined;
  let opening: Promise<ServeDb> | undefined; // set by start() before its first await
  let spool: SpoolStore | undefined;
  let spoolOpening: Promise<SpoolStore> | undefined; // set by start() before it awaits the store
  const stopListening = new Subject<void>();
  const subscriptions = new Subscription();
  let delivered: Promise<void> = Promise.resolve();
  let stopping: Promise<void> | undefined; // set by the first stop(): every step of start() looks

  /**
   * A spool that was asked for and cannot be used (SpoolOpenError: what to fix) stops the start:
   * running without it would lose, at the next outage, what the operator expects kept. False when
   * the start must not go on (stop() came meanwhile: it closes the store).
   */
  const openSpool = async (db: ServeDb): Promise<boolean> => {
    if (spoolOptions === undefined) return true;
    spoolOpening = SpoolStore.open(spoolOptions, emit, scheduler ?? unrefScheduler());
    try {
      spool = await spoolOpening;
    } catch (err) {
      serveDb = undefined;
      await db.close();
      throw err;
    }
    return stopping === undefined;
  };

  /** Wires serve sets → source → sink; the promise settles when the sink completes or fails. */
  const run = (db: ServeDb): Promise<void> => {
    subscriptions.add(db.outcome$.subscribe(emit));
    const serveSet$ = db.serveSet$.pipe(
      tap((set) => {
        firstSet.serveSet(set);
        serveSets.next(set);
      }),
      takeUntil(stopListening), // completing it is how the source stops listening and drains
    );
    // The sink is record$'s only subscriber, so no share(): it was one more Subject per read.
    // Embedders' record$ observers see each record; with none (the daemon) nothing is pushed.
    const record$ = socketSource(serveSet$, { ...sourceOptions, events: onSourceEvent, scheduler }).pipe(
      tap((chunk) => {
        if (records.observed) eachRecord(chunk, (rec) => records.next(rec));
      }),
    );
    const done = new Promise<void>((resolve, reject) => {
      subscriptions.add(
        // serveSets, not serveSet$: it still holds the set while the sink flushes at shutdown, so
        // the last L10 notices go out with the serve's current token.
        logplexSink(record$, { ...sinkOptions, format: formatter, events: (e: SinkEvent) => emit(e), serveSet$: serveSets, spool, scheduler }).subscribe({
          next: (s) => publishStats({ ...s, connections }),
          error: reject,
          complete: resolve,
        }),
      );
    });
    done.catch(() => undefined); // observed by stop(); never an unhandled rejection
    return done;
  };

  // Each step returns early once stop() has begun: stop() closes what the step opened.
  const start = async (): Promise<void> => {
    if (opening !== undefined) throw new Error('collector already started');
    opening = openServeDb(serveDbOptions);
    const db = await opening;
    // Starting now would leave a watch and a sink running that nothing ever stops.
    if (stopping !== undefined) return;
    serveDb = db;
    if (!(await openSpool(db))) return;
    delivered = run(db);
    // stop() abandons the wait; a sink that ended early (it failed) ends it too: stop() reports.
    await Promise.race([firstSet.answered, delivered.catch(() => undefined)]);
    if (stopping !== undefined) return;
    emit({
      kind: 'started',
      level: 'info',
      version: packageVersion(),
      serves: serveSets.value.length,
      serve_db: serveDbOptions.dir,
      open_files_limit: sourceOptions.openFileLimit,
      fd_reserve: sourceOptions.reservedFileDescriptors,
    });
  };

  /** stop()'s steps in order: stop listening, deliver (bounded), abort the rest, close, report. */
  const stopInOrder = async (): Promise<void> => {
    const began = clock.now();
    const remaining = (): number => Math.max(0, began + shutdownTimeoutMs - clock.now());
    emit({ kind: 'stopping', level: 'info', timeout_ms: shutdownTimeoutMs });
    const undeliveredBefore = undelivered(latest);
    firstSet.abandon(); // a start() waiting for its sockets returns now
    stopListening.next();
    // Stop looking at serves.new now, beside delivery: a look under way finishes first, and one
    // that never does (serves.new on a hung file system) must not hold the stop past its timeout.
    const serveDbClosed = closeOnceOpen(serveDb, opening).then(
      () => true,
      () => true, // it failed while closing: closed as far as stopping goes
    );
    const outcome = await within(shutdownTimeoutMs, clock, delivered.then(() => 'delivered' as const), () => 'timeout' as const).catch(() => 'failed' as const);
    if (outcome === 'timeout') abandoned(latest, shutdownTimeoutMs).forEach(emit);
    subscriptions.unsubscribe(); // aborts whatever is still in flight after a timeout
    // Synced: what is in it is delivered by the next start. Bounded like the rest of the stop.
    await within(remaining(), clock, closeOnceOpen(spool, spoolOpening), () => undefined);
    const closed = await within(remaining(), clock, serveDbClosed, () => false);
    // All delivered: the sink finished in time, and nothing it read or owed logplex since the
    // stop began (records, or a notice of earlier losses) was dropped or given up.
    const atStop = latest;
    emit({
      kind: 'stopped',
      level: 'info',
      delivered_all: outcome === 'delivered' && undelivered(atStop) === undeliveredBefore,
      ...(atStop.refused === 0 ? {} : { refused_lines: atStop.refused }),
      ...(spool === undefined ? {} : { spooled_batches: atStop.spoolBatches, spooled_bytes: atStop.spoolBytes }),
      serve_db_closed: closed,
      duration_ms: clock.now() - began,
    });
    events.complete();
    records.complete();
    stats.complete();
    serveSets.complete();
  };

  const stop = (): Promise<void> => (stopping ??= stopInOrder());

  return {
    record$: records.asObservable(),
    event$: events.asObservable(),
    stats$: stats.asObservable(),
    serveSet$: serveSets.asObservable(),
    start,
    reload: () => serveDb?.rescan(),
    stop,
  };
}

export type { EventBase };

/**
 * Closes what is open, or what is still opening once it has opened (one that fails to open was
 * reported by whoever opened it, and has nothing to close).
 */
async function closeOnceOpen(opened: { close(): Promise<void> } | undefined, opening: Promise<{ close(): Promise<void> }> | undefined): Promise<void> {
  const it = opened ?? (await opening?.catch(() => undefined));
  await it?.close();
}

/** What a shutdown timeout abandons: the whole, and each serve that still held lines. */
function abandoned(left: CollectorStats, timeoutMs: number): LifecycleEvent[] {
  const perServe = left.serves
    .filter((s) => s.queuedFrames !== 0 || s.queuedBytes !== 0)
    .map((s): LifecycleEvent => ({ kind: 'lines_abandoned', level: 'error', serve: s.name, socket: s.socketPath, lines: s.queuedFrames, bytes: s.queuedBytes }));
  return [{ kind: 'shutdown_timeout', level: 'error', timeout_ms: timeoutMs, queued_bytes: left.queuedBytes, queued_lines: left.queuedFrames }, ...perServe];
}
