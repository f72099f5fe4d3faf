// The delivery stage: chunks of records in (a chunk per read of a connection), POSTs to logplex
// out, per serve (keyed by socket path):
//
//   chunks ─ lane (lane.ts: BodyFiller, then batches with their L10 notices) ─ outbox (outbox.ts)
//
// The formatter writes each record straight into the serve's open request body (fillBodies.ts):
// no Buffer per record, and each byte is written once, from the record's string into the body.
//
// Input is never paused: the only answer to a full buffer is to drop (ledger.ts). Every byte
// between admission and the end of its post is on the serve's ledger, so memory per serve is
// bounded by the cap. What becomes of a formed batch (posted, retried, spooled, drained, lost)
// is decided by its serve's outbox alone.
//
// This file is the stage: a lane and an outbox per serve, kept in Maps by socket path (each
// chunk costs two lookups, whatever the number of serves: groupBy + mergeMap kept every lane's
// subscriptions in arrays searched linearly as lanes ended), the deadline queues every lane's
// timers share, the stats snapshots, and the HTTP client closed at the end.
import { asyncScheduler, from, Observable, type SchedulerLike, type Subscription } from '../rx';
import { ignoreEvents, type EventSink } from '../events';
import type { Serve, ServeSet } from '../servedb/serve';
import { chunkOf, type SourcedInput } from '../source/sourcedRecord';
import type { ServeSpool, SpoolCounts } from '../spool/store';
import { NOTICE_ROOM_BYTES } from './batch';
import { BodyPool } from './bodyPool';
import type { SinkEvent } from './events';
import { sinkFormatter, type SinkFormatter } from './formatter';
import { Deadlines } from './deadlines';
import { Lane, type LaneShared } from './lane';
import { resolveSinkOptions, type SinkOptionsInput } from './options';
import { Outbox, type OutboxContext, type OutboxState, type SpoolAccess } from './outbox';
import { gzipFast, LogplexClient, type PostTransport } from './post';
import { PostSlots } from './postSlots';
import { StatsRecorder, type SinkStats } from './stats';
import { Throttle } from '../throttle';

export { NOTICE_ROOM_BYTES } from './batch';

/** What the sink needs of a spool store (SpoolStore is one): its serves' spools, what an earlier run left, and its gauges. */
export interface SinkSpool extends SpoolAccess {
  /** Spools found at start-up with batches to deliver. */
  recovered(): readonly ServeSpool[];
  countsOf(socketPath: string): SpoolCounts | undefined;
  totals(): SpoolCounts;
}

export interface LogplexSinkConfig extends SinkOptionsInput {
  readonly format?: SinkFormatter; // sinkFormatter() (src/format with its defaults) when absent
  readonly events?: EventSink<SinkEvent>; // our own log; ignored when absent
  readonly scheduler?: SchedulerLike; // batch and retry timers, and "now" for L10 times
  readonly random?: () => number; // retry jitter
  readonly transport?: PostTransport; // a LogplexClient with these options when absent (tests answer on a virtual clock)
  readonly deflate?: (body: Buffer) => Observable<Buffer>; // how held batches are gzipped: gzipFast, off the event loop, when absent (tests deflate on a virtual clock)
  /**
   * The serve set in force (the collector's). L10 notices that no record carries go out with a
   * serve's delivery as it is here, so a token fixed after the last record applies to them;
   * without it they go out as the serve's last record did.
   */
  readonly serveSet$?: Observable<ServeSet>;
  readonly spool?: SinkSpool; // a SpoolStore, opened (and closed) by the caller; batches logplex cannot take go there (outbox.ts)
  /** Told of every outbox's change of state (outbox.ts); for tests and diagnostics. */
  readonly outboxState?: (socketPath: string, state: OutboxState) => void;
}

/**
 * Deliver `record$` to logplex: chunks as socketSource emits them (the records of one read), or
 * single records (a pipeline built by hand); each is written into its serve's body in one pass. Subscribing starts it; the result emits a stats snapshot when a
 * batch is formed or settled and when drops start (at most one per statsIntervalMs: the first at
 * once, the rest coalesced to the end of the interval), while a spool holds batches at least
 * once per max(statsIntervalMs, flushIntervalMs), and a last one just before it completes.
 *
 * - Graceful stop: complete `record$`. Open batches are flushed, posts in flight and their retries
 *   run to the end, pending drop counts go out in a final L10 batch, a spool's drain lets its post
 *   in flight finish (and marks it delivered) but takes no further batch, connections are closed,
 *   then the result completes.
 * - Abort (e.g. a shutdown timeout): unsubscribe. Requests in flight are aborted and every undici
 *   dispatcher is destroyed; what was queued is not delivered.
 * - An error from `record$` aborts the same way and is passed on.
 */
export function logplexSink(record$: Observable<SourcedInput>, config: LogplexSinkConfig): Observable<SinkStats> {
  return new Observable<SinkStats>((subscriber) => {
    const options = resolveSinkOptions(config);
    const scheduler = config.scheduler ?? asyncScheduler;
    const client: PostTransport = config.transport ?? new LogplexClient(options, scheduler);
    const stats = new StatsRecorder();
    const snapshot = (): void => subscriber.next(stats.snapshot());
    // At most one snapshot per statsIntervalMs: the first of a burst at once, then one at the end
    // of the interval if anything asked meanwhile (see the option for why; throttle.ts).
    const publishing = new Throttle<undefined>(options.statsIntervalMs, scheduler, snapshot);
    const publish = (): void => publishing.offer(undefined);
    /** The last snapshot, now: before completing. */
    const publishNow = (): void => {
      publishing.dispose();
      snapshot();
    };
    let publishTimer: Subscription | undefined;
    const publishSoon = (): void => {
      publishTimer ??= scheduler.schedule(() => {
        publishTimer = undefined;
        publish();
      }, options.flushIntervalMs);
    };
    // While the spool holds batches, time alone moves its gauges (the oldest batch's age): a
    // snapshot at least this often keeps the stats line and metrics moving though nothing is
    // formed or settled.
    const store = config.spool;
    const gaugeEveryMs = Math.max(options.statsIntervalMs, options.flushIntervalMs);
    let gaugeTimer: Subscription | undefined;
    const refreshGauges = (): void => {
      gaugeTimer = undefined;
      if (store === undefined || store.totals().batches === 0) return;
      publish();
      gaugeTimer = scheduler.schedule(refreshGauges, gaugeEveryMs);
    };
    const watchSpool = (): void => {
      gaugeTimer ??= scheduler.schedule(refreshGauges, gaugeEveryMs);
    };
    if (store !== undefined) {
      stats.readSpool({ serve: (socketPath) => store.countsOf(socketPath), total: () => store.totals(), now: () => scheduler.now() });
    }
    // Looked up only when a notice goes out alone (rare): the map is built then, once per serve set.
    let serveSet: ServeSet = [];
    let byPath: Map<string, Serve> | undefined;
    const serveSetSubscription = config.serveSet$?.subscribe((set) => {
      serveSet = set;
      byPath = undefined;
    });
    const currentServe = (socketPath: string): Serve | undefined => {
      byPath ??= new Map(serveSet.map((serve) => [serve.socketPath, serve]));
      return byPath.get(socketPath);
    };

    const outboxes = new Map<string, Outbox>(); // the open outbox of each serve
    const live = new Set<Outbox>(); // every outbox not closed yet, closing ones the Map forgot included
    const lanes = new Map<string, Lane>(); // the open lane of each serve
    let inputDone = false;
    let settled = false; // completed or failed: nothing to destroy at teardown

    // One line for every serve's posts: a slot a post frees must not start another as the sink aborts.
    const slots = new PostSlots(options.maxPostsInFlight);
    const abortAll = (): void => {
      slots.close();
      stopDeadlines();
      for (const lane of lanes.values()) lane.abort();
      lanes.clear();
      for (const outbox of live) outbox.abort();
      live.clear();
      outboxes.clear();
    };
    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      abortAll();
      void client.destroy();
      subscriber.error(err);
    };
    const completeIfDone = (): void => {
      if (!inputDone || live.size > 0 || settled) return;
      settled = true;
      stopDeadlines();
      publishTimer?.unsubscribe(); // the last snapshot follows
      gaugeTimer?.unsubscribe();
      client.close().then(
        () => {
          publishNow();
          subscriber.complete();
        },
        (err: unknown) => subscriber.error(err),
      );
    };

    const ctx: OutboxContext = {
      options,
      client,
      // Room for the L10 notices (two frames of a few hundred bytes) in front of a full batch; as
      // many free bodies as a serve can have posts in flight.
      bodies: new BodyPool(NOTICE_ROOM_BYTES + options.maxBatchBytes, options.concurrency),
      format: config.format ?? sinkFormatter(),
      emit: config.events ?? ignoreEvents,
      scheduler,
      random: config.random ?? Math.random,
      deflate: config.deflate ?? ((body) => from(gzipFast(body))),
      stats,
      publish,
      publishSoon,
      currentServe,
      spool: store,
      slots,
      stateChanged: (outbox, state) => {
        if (state === 'spooling' || state === 'draining') watchSpool();
        config.outboxState?.(outbox.socketPath, state);
      },
      ended: (outbox, error) => {
        live.delete(outbox);
        if (outboxes.get(outbox.socketPath) === outbox) outboxes.delete(outbox.socketPath);
        if (error !== undefined) fail(error);
        else completeIfDone();
      },
    };

    /** The serve's open outbox; a new one when it has none, or its last is closing. */
    const outboxOf = (socketPath: string): Outbox => {
      const open = outboxes.get(socketPath);
      if (open?.open === true) return open;
      const outbox = new Outbox(socketPath, ctx);
      outboxes.set(socketPath, outbox);
      live.add(outbox);
      return outbox;
    };
    // One timer for every lane's body flush, one for every lane's idle check.
    const shared: LaneShared = {
      limits: { maxFrames: options.maxBatchFrames, maxBytes: options.maxBatchBytes, headroom: NOTICE_ROOM_BYTES, bodies: ctx.bodies },
      flushDeadlines: new Deadlines(options.flushIntervalMs, scheduler),
      idleDeadlines: new Deadlines(options.laneIdleMs, scheduler),
    };
    function stopDeadlines(): void {
      shared.flushDeadlines.clear();
      shared.idleDeadlines.clear();
    }
    const laneEnded = (lane: Lane): void => {
      if (lanes.get(lane.outbox.socketPath) === lane) lanes.delete(lane.outbox.socketPath);
    };

    const subscription = record$.subscribe({
      next: (input) => {
        const chunk = chunkOf(input);
        const socketPath = chunk.serve.socketPath;
        let lane = lanes.get(socketPath);
        if (lane === undefined || !lane.outbox.open) {
          lane = new Lane(outboxOf(socketPath), ctx, shared, laneEnded);
          lanes.set(socketPath, lane);
        }
        lane.push(chunk);
      },
      error: fail,
      complete: () => {
        inputDone = true;
        // Every open body flushed into a last batch, then every outbox closes: what is in memory
        // settles, drains finish only their post in flight (the rest of a spool waits on disk).
        for (const lane of [...lanes.values()]) lane.end();
        for (const outbox of [...live]) outbox.close();
        completeIfDone();
      },
    });

    // What an earlier run left in the spool is drained whether or not its serve sends a record.
    for (const spool of store?.recovered() ?? []) {
      if (settled || inputDone) break;
      outboxOf(spool.socketPath).kickDrain();
    }

    return () => {
      subscription.unsubscribe();
      serveSetSubscription?.unsubscribe();
      publishTimer?.unsubscribe();
      publishing.dispose();
      gaugeTimer?.unsubscribe();
      if (!settled) {
        settled = true;
        abortAll();
        void client.destroy();
      }
    };
  });
}
