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
import { asyncScheduler, groupBy, mergeMap, Observable, type SchedulerLike } from 'rxjs';
import { ignoreEvents, type EventSink } from '../events';
import type { SourcedRecord } from '../source/sourcedRecord';
import { NOTICE_ROOM_BYTES } from './batch';
import { BodyPool } from './bodyPool';
import type { SinkEvent } from './events';
import { sinkFormatter, type SinkFormatter } from './formatter';
import { laneIdle, serveLane, type LaneContext } from './lane';
import { resolveSinkOptions, type SinkOptionsInput } from './options';
import { LogplexClient } from './post';
import type { SpoolStore } from '../spool/store';
import { spoolDrainers, type Spooling } from './spooling';
import { StatsRecorder, type SinkStats } from './stats';

export { NOTICE_ROOM_BYTES } from './batch';

export interface LogplexSinkConfig extends SinkOptionsInput {
  readonly format?: SinkFormatter; // sinkFormatter() (src/format with its defaults) when absent
  readonly events?: EventSink<SinkEvent>; // our own log; ignored when absent
  readonly scheduler?: SchedulerLike; // batch and retry timers, and "now" for L10 times
  readonly random?: () => number; // retry jitter
  readonly spool?: SpoolStore; // opened (and closed) by the caller; batches logplex cannot take go there (spooling.ts)
}

/**
 * Deliver `record$` to logplex. Subscribing starts it; the result emits a stats snapshot whenever
 * a batch is formed or settled and when drops start, and a last one just before it completes.
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
    const publish = (): void => subscriber.next(stats.snapshot());
    const shared = {
      options,
      client,
      // Room for the L10 notices (two frames of a few hundred bytes) in front of a full batch; as
      // many free bodies as a serve can have posts in flight.
      bodies: new BodyPool(NOTICE_ROOM_BYTES + options.maxBatchBytes, options.concurrency),
      format: config.format ?? sinkFormatter(),
      emit: config.events ?? ignoreEvents,
      scheduler: config.scheduler ?? asyncScheduler,
      random: config.random ?? Math.random,
      stats,
      publish,
    };
    // With a spool: one drainer per serve spool with batches in it, for the whole sink, starting
    // with those an earlier run left (spooling.ts).
    const store = config.spool;
    const spooling: Spooling | undefined =
      store === undefined ? undefined : { store, drainers: spoolDrainers(shared), highWaterBytes: store.options.highWaterBytes };
    if (store !== undefined) {
      stats.readSpool({ serve: (socketPath) => store.countsOf(socketPath), total: () => store.totals(), now: () => shared.scheduler.now() });
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
          client.close().then(
            () => {
              publish();
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
      if (!settled) void client.destroy();
    };
  });
}
