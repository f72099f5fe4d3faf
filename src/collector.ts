// The collector as a library: serve database → socket source → logplex sink, wired once, with
// the stream of records, events and stats open to whoever embeds it. The daemon is a thin shell
// around this (daemon/main.ts).
//
//   serveDb.serveSet$ ─takeUntil(stop)─ socketSource ─ record$ ─ logplexSink ─ stats$
//          │                               │                         │
//          └──── outcome events ───────────┴──── events ─────────────┴──→ event$
import { BehaviorSubject, Observable, Subject, Subscription, takeUntil, tap } from 'rxjs';
import type { EventBase } from './events';
import { resolveFormatOptions } from './format/options';
import { COLLECTOR_DEFAULTS, type CollectorOptions } from './options';
import { openServeDb, type ServeDb, type ServeDbEvent } from './servedb';
import { resolveServeDbOptions } from './servedb/options';
import type { ServeSet } from './servedb/serve';
import { logplexSink, resolveSinkOptions, sinkFormatter, type SinkEvent, type SinkStats } from './sink';
import { zeroCounters } from './sink/stats';
import { socketSource, type SourceEvent, type SourcedRecord } from './source';
import { resolveSourceOptions } from './source/options';
import type { SpoolEvent } from './spool/events';
import { resolveSpoolOptions } from './spool/options';
import { SpoolStore } from './spool/store';

/** The collector's own lifecycle, beside what the stages report. */
export type LifecycleEvent =
  | { readonly kind: 'started'; readonly level: 'info'; readonly serves: number; readonly serve_db: string }
  | { readonly kind: 'stopping'; readonly level: 'info'; readonly timeout_ms: number }
  | { readonly kind: 'stopped'; readonly level: 'info'; readonly delivered_all: boolean; readonly duration_ms: number }
  | {
      readonly kind: 'shutdown_timeout';
      readonly level: 'error';
      readonly timeout_ms: number;
      readonly queued_bytes: number; // what was still undelivered and is now lost
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
  /** Latest counters; replays the current value to each subscriber. */
  readonly stats$: Observable<CollectorStats>;
  /** The serve set in force (replays the current one); empty before start(). */
  readonly serveSet$: Observable<ServeSet>;
  /** Opens the serve database and starts listening. Rejects (e.g. ServeDbError) when it cannot. */
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

export function createCollector(options: CollectorOptions): Collector {
  // Resolve every stage's options now, so a bad option fails here, before anything starts.
  const logplexUrl = typeof options.logplexUrl === 'string' ? new URL(options.logplexUrl) : options.logplexUrl;
  const serveDbOptions = resolveServeDbOptions({ ...options.serveDb, dir: options.serveDbDir, logplexUrl });
  const sourceOptions = resolveSourceOptions(options.source);
  const formatter = sinkFormatter(resolveFormatOptions(options.format));
  const sinkOptions = resolveSinkOptions(options.sink);
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? COLLECTOR_DEFAULTS.shutdownTimeoutMs;
  const spoolOptions = options.spool === undefined ? undefined : resolveSpoolOptions(options.spool);

  const events = new Subject<CollectorEvent>();
  const records = new Subject<SourcedRecord>();
  const stats = new BehaviorSubject<CollectorStats>(emptyStats());
  const serveSets = new BehaviorSubject<ServeSet>([]);
  const emit = (event: CollectorEvent): void => events.next(event);

  let connections = 0;
  const onSourceEvent = (event: SourceEvent): void => {
    if (event.kind === 'connect') connections += 1;
    const ended = event.kind === 'disconnect' || event.kind === 'identity_mismatch' || event.kind === 'protocol_error';
    if (ended && event.identified) connections -= 1; // only those that had logged `connect`
    emit(event);
  };

  let serveDb: ServeDb | undefined;
  let spool: SpoolStore | undefined;
  const stopListening = new Subject<void>();
  const subscriptions = new Subscription();
  let delivered: Promise<void> = Promise.resolve();
  let stopping: Promise<void> | undefined;

  const start = async (): Promise<void> => {
    if (serveDb !== undefined) throw new Error('collector already started');
    const db = await openServeDb(serveDbOptions);
    serveDb = db;
    if (spoolOptions !== undefined) {
      try {
        spool = await SpoolStore.open(spoolOptions, emit);
      } catch (err) {
        // A spool that cannot be opened (its directory unwritable, say) must not keep logs from
        // flowing: without it, the collector works as it did before it had one.
        const code = typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : 'UNKNOWN';
        emit({ kind: 'spool_failed', level: 'error', op: 'open', code, retry_in_ms: 0 });
      }
    }
    subscriptions.add(db.outcome$.subscribe(emit));
    const serveSet$ = db.serveSet$.pipe(
      tap((set) => serveSets.next(set)),
      takeUntil(stopListening), // completing it is how the source stops listening and drains
    );
    // The sink is record$'s only subscriber, so no share(): it was one more Subject per record.
    // Embedders' record$ observers see each record; with none (the daemon) nothing is pushed.
    const record$ = socketSource(serveSet$, { ...sourceOptions, events: onSourceEvent }).pipe(
      tap((rec) => {
        if (records.observed) records.next(rec);
      }),
    );
    delivered = new Promise<void>((resolve, reject) => {
      subscriptions.add(
        logplexSink(record$, { ...sinkOptions, format: formatter, events: (e: SinkEvent) => emit(e), spool }).subscribe({
          next: (s) => stats.next({ ...s, connections }),
          error: reject,
          complete: resolve,
        }),
      );
    });
    delivered.catch(() => undefined); // observed by stop(); never an unhandled rejection
    emit({ kind: 'started', level: 'info', serves: serveSets.value.length, serve_db: serveDbOptions.dir });
  };

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const began = Date.now();
      emit({ kind: 'stopping', level: 'info', timeout_ms: shutdownTimeoutMs });
      stopListening.next();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), shutdownTimeoutMs);
      });
      const outcome = await Promise.race([delivered.then(() => 'delivered' as const), timedOut]).catch(
        () => 'failed' as const,
      );
      clearTimeout(timer);
      if (outcome === 'timeout') {
        emit({
          kind: 'shutdown_timeout',
          level: 'error',
          timeout_ms: shutdownTimeoutMs,
          queued_bytes: stats.value.queuedBytes,
        });
      }
      subscriptions.unsubscribe(); // aborts whatever is still in flight after a timeout
      await spool?.close(); // synced: what is in it is delivered by the next start
      await serveDb?.close();
      emit({ kind: 'stopped', level: 'info', delivered_all: outcome === 'delivered', duration_ms: Date.now() - began });
      events.complete();
      records.complete();
      stats.complete();
      serveSets.complete();
    })();
    return stopping;
  };

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
