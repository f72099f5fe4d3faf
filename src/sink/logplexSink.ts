// The delivery stage: SourcedRecords in, POSTs to logplex out, per serve (keyed by socket path):
//
//   records ─ fillBodies (format into the open body, admit to the ledger) ─ + L10 notices ─ (gzip while failing) ─ mergeMap(post+retry, concurrency)
//
// The formatter writes each record straight into the serve's open request body (fillBodies.ts):
// no Buffer per record, and each byte is written once, from the record's string into the body.
//
// Input is never paused: the only answer to a full buffer is to drop (serveQueue.ts). Every byte
// between admission and the end of its post (open batch, batches queued inside mergeMap, posts in
// flight or backing off) is on the serve's ledger, so memory per serve is bounded by the cap.
//
// While a serve's posts are failing, each batch it forms is gzipped before it queues, and goes
// out as gzip when logplex is back (logplex-input.md: logplex inflates it). An outage is when
// batches pile up to the cap: held compressed they take a fraction of it (the bench: 33 MB of
// frames in under 10 MB). The ledger still counts frame bytes, so the cap keeps its meaning (how
// much log a serve may hold back) and drops happen exactly where they would have.
import {
  asyncScheduler,
  catchError,
  concat,
  concatMap,
  defer,
  EMPTY,
  filter,
  from,
  groupBy,
  ignoreElements,
  interval,
  map,
  mergeMap,
  Observable,
  of,
  pairwise,
  startWith,
  take,
  tap,
  finalize,
  type GroupedObservable,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import type { EventSink } from '../events';
import { ignoreEvents } from '../events';
import { sameDelivery, type Serve } from '../servedb/serve';
import type { SourcedRecord } from '../source/sourcedRecord';
import { BodyPool } from './bodyPool';
import { fillBodies, type FilledBody } from './fillBodies';
import { PostError, RetryGiveUpError } from './errors';
import type { SinkEvent } from './events';
import { sinkFormatter, type SinkFormatter } from './formatter';
import { resolveSinkOptions, type SinkOptions, type SinkOptionsInput } from './options';
import { gzipFast, LogplexClient, preparePost, type OutgoingBatch, type PostResult, type PreparedPost } from './post';
import { retryWithBackoff, type AttemptFailure } from './retryWithBackoff';
import { ServeQueue, type Unannounced } from './serveQueue';
import { StatsRecorder, type MutableCounters, type SinkStats } from './stats';

export interface LogplexSinkConfig extends SinkOptionsInput {
  readonly format?: SinkFormatter; // sinkFormatter() (src/format with its defaults) when absent
  readonly events?: EventSink<SinkEvent>; // our own log; ignored when absent
  readonly scheduler?: SchedulerLike; // batch and retry timers, and "now" for L10 times
  readonly random?: () => number; // retry jitter
}

/** A formed batch: body built, bytes on the ledger until the post ends. */
interface Batch extends OutgoingBatch {
  readonly logFrames: number; // frames from records (what is lost if the batch is)
  readonly ledgerBytes: number; // what to release from the serve's queue when done
  readonly announced: { dropped: Unannounced | undefined; lost: Unannounced | undefined };
}

const serveFields = (serve: Serve) => ({ serve: serve.name, socket: serve.socketPath });

/**
 * Deliver `record$` to logplex. Subscribing starts it; the result emits a stats snapshot when a
 * batch is formed or settled and when drops start (at most one per statsIntervalMs: the first at
 * once, the rest coalesced to the end of the interval), and a last one just before it completes.
 *
 * - Graceful stop: complete `record$`. Open batches are flushed, posts in flight and their retries
 *   run to the end, pending drop counts go out in a final L10 batch, connections are closed, then
 *   the result completes.
 * - Abort (e.g. a shutdown timeout): unsubscribe. Requests in flight are aborted and every undici
 *   dispatcher is destroyed; what was queued is not delivered.
 * - An error from `record$` aborts the same way and is passed on.
 */
export function logplexSink(record$: Observable<SourcedRecord>, config: LogplexSinkConfig): Observable<SinkStats> {
  return new Observable<SinkStats>((subscriber) => {
    const options = resolveSinkOptions(config);
    const client = new LogplexClient(options);
    const stats = new StatsRecorder();
    const scheduler = config.scheduler ?? asyncScheduler;
    const snapshot = (): void => subscriber.next(stats.snapshot());
    // At most one snapshot per statsIntervalMs: the first of a burst at once, then one at the end
    // of the interval if anything asked meanwhile (see the option for why).
    let throttle: Subscription | undefined; // set while an interval runs (an executed action is not `closed`)
    let asked = false;
    const tick = (): void => {
      throttle = undefined;
      if (!asked) return;
      asked = false;
      snapshot();
      throttle = scheduler.schedule(tick, options.statsIntervalMs);
    };
    const publish = (): void => {
      if (throttle !== undefined) {
        asked = true;
        return;
      }
      snapshot();
      if (options.statsIntervalMs > 0) throttle = scheduler.schedule(tick, options.statsIntervalMs);
    };
    /** The last snapshot, now: before completing. */
    const publishNow = (): void => {
      throttle?.unsubscribe();
      throttle = undefined;
      asked = false;
      snapshot();
    };
    const lane: LaneContext = {
      options,
      client,
      // Room for the L10 notices (two frames of a few hundred bytes) in front of a full batch; as
      // many free bodies as a serve can have posts in flight.
      bodies: new BodyPool(NOTICE_ROOM_BYTES + options.maxBatchBytes, options.concurrency),
      format: config.format ?? sinkFormatter(),
      emit: config.events ?? ignoreEvents,
      scheduler,
      random: config.random ?? Math.random,
      stats,
      publish,
    };
    let settled = false;

    const subscription = record$
      .pipe(
        // A serve idle for laneIdleMs is retired: its group completes, which flushes and finishes
        // its lane; a later record opens a new one.
        groupBy((rec) => rec.serve.socketPath, { duration: (serve$) => idle(serve$.key, lane) }),
        // One lane per serve, all running at once: a slow serve never holds up another.
        mergeMap((serve$) => serveLane(serve$, lane)),
      )
      .subscribe({
        error: (err: unknown) => {
          settled = true;
          void client.destroy();
          subscriber.error(err);
        },
        complete: () => {
          settled = true;
          client.close().then(
            () => {
              publishNow();
              subscriber.complete();
            },
            (err: unknown) => subscriber.error(err),
          );
        },
      });

    return () => {
      subscription.unsubscribe();
      throttle?.unsubscribe();
      if (!settled) void client.destroy();
    };
  });
}

/**
 * Emits once a serve has had no record for a whole laneIdleMs period (so after one to two of
 * them), judged by its record counter: nothing is added to any record's path. It must not
 * subscribe to the group itself: groupBy counts that as a live subscriber, and would then keep
 * the source, and this timer, alive after the sink is unsubscribed.
 */
function idle(socketPath: string, ctx: LaneContext): Observable<unknown> {
  const counters = ctx.stats.countersOf(socketPath); // the name is the lane's to set
  const seen = (): number => counters.recordsIn;
  return interval(ctx.options.laneIdleMs, ctx.scheduler).pipe(
    map(seen),
    startWith(seen()),
    pairwise(),
    filter(([before, now]) => before === now),
    take(1),
  );
}

/** Bytes a body keeps free in front of its records for the L10 notices that open it. */
export const NOTICE_ROOM_BYTES = 4096;

interface LaneContext {
  readonly options: SinkOptions;
  readonly client: LogplexClient;
  readonly bodies: BodyPool;
  readonly format: SinkFormatter;
  readonly emit: EventSink<SinkEvent>;
  readonly scheduler: SchedulerLike;
  readonly random: () => number;
  readonly stats: StatsRecorder;
  readonly publish: () => void;
}

function serveLane(serve$: GroupedObservable<string, SourcedRecord>, ctx: LaneContext): Observable<never> {
  const { options, format, emit, scheduler, stats } = ctx;
  const queue = new ServeQueue(options.bufferCapBytes);
  stats.laneOpened(serve$.key);
  const now = (): Date => new Date(scheduler.now());
  let latest: Serve | undefined; // for a last notice-only batch after the input ends
  let counters: MutableCounters | undefined;
  const countersOf = (serve: Serve): MutableCounters => (counters = stats.forServe(serve.socketPath, serve.name));
  const syncQueued = (): void => {
    if (counters !== undefined) counters.queuedBytes = queue.queuedBytes;
  };

  const write = (rec: SourcedRecord, target: Buffer, at: number, end: number): number => {
    try {
      return format.write(rec, target, at, end);
    } catch (err) {
      // One unrenderable record must not stop a serve's logs.
      countersOf(rec.serve).recordsIn += 1;
      emit({ kind: 'format_failed', level: 'error', ...serveFields(rec.serve), error: err instanceof Error ? err.message : String(err) });
      return 0; // skipped
    }
  };

  /** A record's frames are written: reserve room for them on the ledger, or drop them whole. */
  const accept = (rec: SourcedRecord, bytes: number, frames: number): boolean => {
    latest = rec.serve;
    const c = countersOf(rec.serve);
    c.recordsIn += 1;
    c.framesIn += frames;
    if (!queue.admit(bytes)) {
      c.dropped += frames;
      // No Date per dropped record: the queue makes one when a run of drops starts.
      if (queue.drop(frames, scheduler.now())) {
        const since = queue.dropSince as Date; // the run just started
        emit({ kind: 'drop', level: 'warn', ...serveFields(rec.serve), phase: 'started', count: frames, since: since.toISOString() });
        ctx.publish();
      }
      return false;
    }
    syncQueued();
    return true;
  };

  /** A closed body becomes a batch, opened by L10 frames for whatever was dropped or lost since the last one. */
  const formBatch = (serve: Serve, filled: FilledBody<SourcedRecord> | undefined): Batch => {
    const announced = queue.takeUnannounced();
    const at = now();
    const notices: Buffer[] = [];
    if (announced.dropped !== undefined) {
      const { count, since } = announced.dropped;
      notices.push(format.notice(serve, format.l10Text('dropped', count, since), at));
      emit({ kind: 'drop', level: 'warn', ...serveFields(serve), phase: 'announced', count, since: since.toISOString() });
    }
    if (announced.lost !== undefined) {
      notices.push(format.notice(serve, format.l10Text('lost', announced.lost.count, announced.lost.since), at));
    }
    let noticeBytes = 0;
    for (const n of notices) noticeBytes += n.length;
    queue.reserve(noticeBytes);
    const body = filled === undefined ? Buffer.concat(notices, noticeBytes) : openWith(filled, notices, noticeBytes, ctx.bodies);
    const logFrames = filled?.frames ?? 0;
    return {
      serve,
      body,
      frameCount: notices.length + logFrames,
      dropCount: announced.dropped?.count ?? 0,
      lostCount: announced.lost?.count ?? 0,
      logFrames,
      ledgerBytes: body.length,
      announced,
    };
  };

  const batches$ = serve$.pipe(
    fillBodies<SourcedRecord>({
      maxFrames: options.maxBatchFrames,
      maxBytes: options.maxBatchBytes,
      flushIntervalMs: options.flushIntervalMs,
      headroom: NOTICE_ROOM_BYTES,
      write,
      framesOf: format.frames,
      accept,
      // Cut when the serve's delivery changed mid-batch, so each POST goes out with the credentials its frames were made for.
      startsNewBody: (last, next) => last.serve !== next.serve && !sameDelivery(last.serve, next.serve),
      bodies: ctx.bodies,
      scheduler,
    }),
    map((filled) => {
      const batch = formBatch(filled.last.serve, filled);
      syncQueued();
      ctx.publish();
      return batch;
    }),
  );

  // Drops that happened after the last batch formed would otherwise never be told to logplex.
  const finalNotice$ = defer(() =>
    latest !== undefined && queue.hasUnannounced() ? of(formBatch(latest, undefined)) : EMPTY,
  );

  // Whether this serve's last settled attempt failed: then what queues is held gzipped.
  const health = { failing: false };
  const compact = async (batch: Batch): Promise<Batch> => {
    const gz = await gzipFast(batch.body);
    ctx.bodies.give(batch.body); // never sent: nothing else reads it
    return { ...batch, body: gz, gzipped: true };
  };

  return concat(batches$, finalNotice$).pipe(
    concatMap((batch) => (health.failing ? from(compact(batch)) : of(batch))),
    // mergeMap queues batches beyond `concurrency`; their bytes are still on the ledger.
    mergeMap((batch) => deliver(batch, ctx, queue, countersOf(batch.serve), health), options.concurrency),
    ignoreElements(),
    finalize(() => {
      // Retired (idle), or the sink stopped: nothing of this lane is left.
      stats.laneClosed(serve$.key);
      ctx.publish();
    }),
  );
}

/**
 * The body of a closed batch: `notices` written into the room in front of its records. A body
 * less than half its buffer (a serve slowing down, a lone small record in a pooled buffer) is
 * copied out at its size and the buffer given back now, so that what waits in a queue, through
 * an outage say, is what the ledger counts.
 */
function openWith(filled: FilledBody<SourcedRecord>, notices: readonly Buffer[], noticeBytes: number, bodies: BodyPool): Buffer {
  const { buffer, end } = filled;
  const start = NOTICE_ROOM_BYTES - noticeBytes;
  if (start < 0) {
    // Notices longer than the room (a hostname of hundreds of bytes, say): copy once, rarely.
    bodies.give(buffer);
    return Buffer.concat([...notices, buffer.subarray(NOTICE_ROOM_BYTES, end)]);
  }
  let at = start;
  for (const n of notices) at += n.copy(buffer, at);
  const body = buffer.subarray(start, end);
  if (body.length * 2 >= buffer.length) return body;
  const own = Buffer.from(body);
  bodies.give(buffer);
  return own;
}

/** Post one batch with retries; settle its accounts whatever happens. */
function deliver(batch: Batch, ctx: LaneContext, queue: ServeQueue, counters: MutableCounters, health: { failing: boolean }): Observable<never> {
  const { options, client, emit, scheduler } = ctx;
  const onFailure = (f: AttemptFailure): void => {
    const err = f.error;
    health.failing = true;
    if (f.willRetry) counters.requestsRetried += 1;
    emit({
      kind: 'post_failed',
      level: f.willRetry ? 'warn' : 'error',
      ...serveFields(batch.serve),
      code: err instanceof PostError ? err.code : 'UNKNOWN',
      status: err instanceof PostError ? err.status : undefined,
      cause: err instanceof PostError ? err.causeCode : undefined,
      attempt: f.attempt,
      willRetry: f.willRetry,
      retryInMs: f.delayMs,
      frames: batch.frameCount,
    });
  };

  let delivered = false;
  return defer(() => from(preparePost(batch, options))).pipe(
    mergeMap((prepared) =>
      attempt$(client, prepared).pipe(
        retryWithBackoff<PostResult>(options.retry, {
          isTransient: (e) => e instanceof PostError && e.transient,
          hintOf: (e) => (e instanceof PostError ? e.retryAfterMs : undefined),
          random: ctx.random,
          scheduler,
          onFailure,
        }),
      ),
    ),
    tap((result) => {
      delivered = true;
      health.failing = false;
      counters.requestsOk += 1;
      counters.framesOut += batch.frameCount;
      counters.bytesOut += result.bytes;
    }),
    ignoreElements(),
    catchError((err: unknown) => {
      // Given up: count the log frames as lost, and put back the counts this batch was announcing.
      counters.requestsFailed += 1;
      counters.lost += batch.logFrames;
      if (batch.logFrames > 0) queue.lose(batch.logFrames, new Date(scheduler.now()));
      queue.restore(batch.announced);
      const giveUp = err instanceof RetryGiveUpError ? err : undefined;
      const last = giveUp?.lastError ?? err;
      emit({
        kind: 'batch_lost',
        level: 'error',
        ...serveFields(batch.serve),
        frames: batch.logFrames,
        reason: giveUp?.reason ?? 'prepare_failed',
        code: last instanceof PostError ? last.code : 'UNKNOWN',
        status: last instanceof PostError ? last.status : undefined,
        attempts: giveUp?.attempts ?? 0,
      });
      return EMPTY;
    }),
    finalize(() => {
      if (delivered) ctx.bodies.give(batch.body); // answered 2xx: the server read all of it
      queue.release(batch.ledgerBytes);
      counters.queuedBytes = queue.queuedBytes;
      ctx.publish();
    }),
  );
}

/** One try as an observable: unsubscribing (abort, shutdown) aborts the request. */
function attempt$(client: LogplexClient, prepared: PreparedPost): Observable<PostResult> {
  return new Observable<PostResult>((subscriber) => {
    const abort = new AbortController();
    let settled = false;
    client.send(prepared, abort.signal).then(
      (result) => {
        settled = true;
        subscriber.next(result);
        subscriber.complete();
      },
      (err: unknown) => {
        settled = true;
        subscriber.error(err);
      },
    );
    // Only a request still running needs aborting: abort() builds a DOMException with a stack
    // trace, which on every settled post cost about 1% of the daemon's CPU.
    return () => {
      if (!settled) abort.abort();
    };
  });
}
