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
// This file is the stage: one lane per serve, retired when idle, and the HTTP client closed at
// the end. A lane (lane.ts) forms batches (batch.ts) and posts them (deliver.ts); its ledger and
// counters are kept in one place (laneAccounts.ts).
import { asyncScheduler, groupBy, mergeMap, Observable, type SchedulerLike, type Subscription } from '../rx';
import { ignoreEvents, type EventSink } from '../events';
import type { Serve, ServeSet } from '../servedb/serve';
import type { SourcedRecord } from '../source/sourcedRecord';
import { NOTICE_ROOM_BYTES } from './batch';
import { BodyPool } from './bodyPool';
import type { SinkEvent } from './events';
import { sinkFormatter, type SinkFormatter } from './formatter';
import { laneIdle, serveLane, type LaneContext } from './lane';
import { resolveSinkOptions, type SinkOptionsInput } from './options';
import { LogplexClient, type PostTransport } from './post';
import type { SpoolStore } from '../spool/store';
import { spoolDrainers, type Spooling } from './spooling';
import { StatsRecorder, type SinkStats } from './stats';

export { NOTICE_ROOM_BYTES } from './batch';

export interface LogplexSinkConfig extends SinkOptionsInput {
  readonly format?: SinkFormatter; // sinkFormatter() (src/format with its defaults) when absent
  readonly events?: EventSink<SinkEvent>; // our own log; ignored when absent
  readonly scheduler?: SchedulerLike; // batch and retry timers, and "now" for L10 times
  readonly random?: () => number; // retry jitter
  readonly transport?: PostTransport; // a LogplexClient with these options when absent (tests answer on a virtual clock)
  /**
   * The serve set in force (the collector's). L10 notices that no record carries go out with a
   * serve's delivery as it is here, so a token fixed after the last record applies to them;
   * without it they go out as the serve's last record did.
   */
  readonly serveSet$?: Observable<ServeSet>;
  readonly spool?: SpoolStore; // opened (and closed) by the caller; batches logplex cannot take go there (spooling.ts)
}

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
    const client: PostTransport = config.transport ?? new LogplexClient(options);
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
    let publishTimer: Subscription | undefined;
    const publishSoon = (): void => {
      publishTimer ??= scheduler.schedule(() => {
        publishTimer = undefined;
        publish();
      }, options.flushIntervalMs);
    };
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
    const shared = {
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
      publishSoon,
      currentServe,
    };
    // With a spool: one drainer per serve spool with batches in it, for the whole sink, starting
    // with those an earlier run left (spooling.ts).
    const store = config.spool;
    const spooling: Spooling | undefined =
      store === undefined ? undefined : { store, drainers: spoolDrainers(shared), highWaterBytes: store.options.highWaterBytes };
    if (store !== undefined) {
      stats.readSpool({ serve: (socketPath) => store.countsOf(socketPath), total: () => store.totals(), now: () => scheduler.now() });
    }
    const lane: LaneContext = { ...shared, spooling };
    // Stopping leaves spooled batches (the one posting included) on disk for the next start.
    const stopDraining = (): void => spooling?.drainers.stop();
    let settled = false;

    const subscription = record$
      .pipe(
        // A serve idle for laneIdleMs is retired: its group completes, which flushes and finishes
        // its lane; a later record opens a new one.
        groupBy((rec) => rec.serve.socketPath, { duration: (serve$) => laneIdle(serve$.key, lane) }),
        // One lane per serve, all running at once: a slow serve never holds up another.
        mergeMap((serve$) => serveLane(serve$, lane)),
      )
      .subscribe({
        error: (err: unknown) => {
          settled = true;
          stopDraining();
          void client.destroy();
          subscriber.error(err);
        },
        complete: () => {
          settled = true;
          stopDraining();
          publishTimer?.unsubscribe(); // the last snapshot follows
          client.close().then(
            () => {
              publishNow();
              subscriber.complete();
            },
            (err: unknown) => subscriber.error(err),
          );
        },
      });

    for (const spool of store?.recovered() ?? []) spooling?.drainers.kick(spool);

    return () => {
      stopDraining();
      subscription.unsubscribe();
      serveSetSubscription?.unsubscribe();
      publishTimer?.unsubscribe();
      throttle?.unsubscribe();
      if (!settled) void client.destroy();
    };
  });
}
