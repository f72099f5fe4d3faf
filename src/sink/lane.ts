// One serve's lane: its records written into bodies (fillBodies.ts) and admitted to its ledger
// (laneAccounts.ts), bodies formed into batches with their L10 notices (batch.ts), gzipped while
// logplex is failing, and posted at most `concurrency` at a time (deliver.ts).
//
// While a serve's posts are failing, each batch it forms is gzipped before it queues, and goes
// out as gzip when logplex is back (logplex-input.md: logplex inflates it). An outage is when
// batches pile up to the cap: held compressed they take a fraction of it (the bench: 33 MB of
// frames in under 10 MB). The ledger still counts frame bytes, so the cap keeps its meaning (how
// much log a serve may hold back) and drops happen exactly where they would have.
import {
  concat,
  concatMap,
  defer,
  EMPTY,
  filter,
  finalize,
  from,
  ignoreElements,
  interval,
  map,
  mergeMap,
  of,
  pairwise,
  startWith,
  take,
  identity,
  type GroupedObservable,
  type MonoTypeOperatorFunction,
  type Observable,
} from 'rxjs';
import { sameDelivery } from '../servedb/serve';
import { toSpoolWhileBusy } from '../spool/drain';
import type { SourcedRecord } from '../source/sourcedRecord';
import { formBatch, NOTICE_ROOM_BYTES, type Batch, type BatchContext } from './batch';
import { deliver, type DeliveryContext, type Health, type Spill } from './deliver';
import { fillBodies } from './fillBodies';
import { LaneAccounts, serveFields } from './laneAccounts';
import { gzipFast } from './post';
import { spill, spooledOf, type Spooling } from './spooling';
import type { StatsRecorder } from './stats';

/** What every lane shares: the sink's options, client, body pool, formatter, log and stats. */
export interface LaneContext extends DeliveryContext, BatchContext {
  readonly stats: StatsRecorder;
  readonly publish: () => void;
  readonly spooling: Spooling | undefined; // with --spool-dir: spooling.ts
}

export function serveLane(serve$: GroupedObservable<string, SourcedRecord>, ctx: LaneContext): Observable<never> {
  const { options, format, emit, scheduler, stats } = ctx;
  stats.laneOpened(serve$.key);
  const accounts = new LaneAccounts(serve$.key, options.bufferCapBytes, stats, emit, ctx.publish, scheduler);
  const now = (): Date => new Date(scheduler.now());

  const write = (rec: SourcedRecord, target: Buffer, at: number, end: number): number => {
    try {
      return format.write(rec, target, at, end);
    } catch (err) {
      // One unrenderable record must not stop a serve's logs.
      accounts.formatFailed(rec.serve);
      emit({ kind: 'format_failed', level: 'error', ...serveFields(rec.serve), error: err instanceof Error ? err.message : String(err) });
      return 0; // skipped
    }
  };

  const batches$ = serve$.pipe(
    fillBodies<SourcedRecord>({
      maxFrames: options.maxBatchFrames,
      maxBytes: options.maxBatchBytes,
      flushIntervalMs: options.flushIntervalMs,
      headroom: NOTICE_ROOM_BYTES,
      write,
      framesOf: format.frames,
      accept: (rec, bytes, frames) => accounts.admit(rec.serve, bytes, frames),
      // Cut when the serve's delivery changed mid-batch, so each POST goes out with the credentials its frames were made for.
      startsNewBody: (last, next) => last.serve !== next.serve && !sameDelivery(last.serve, next.serve),
      bodies: ctx.bodies,
      scheduler,
    }),
    map((filled) => {
      const batch = formBatch(filled.last.serve, filled, now(), accounts, ctx);
      accounts.formed();
      return batch;
    }),
  );

  // Drops that happened after the last batch formed would otherwise never be told to logplex.
  const finalNotice$ = defer(() => {
    const latest = accounts.latest;
    return latest !== undefined && accounts.hasUnannounced() ? of(formBatch(latest, undefined, now(), accounts, ctx)) : EMPTY;
  });

  const health: Health = { failing: false };
  const compact = async (batch: Batch): Promise<Batch> => {
    const gz = await gzipFast(batch.body);
    ctx.bodies.give(batch.body); // never sent: nothing else reads it
    return { ...batch, body: gz, gzipped: true };
  };

  // With a spool: while it holds anything of this serve, or memory is past the high-water mark,
  // batches go to disk (gzipped) behind what is there; see spooling.ts.
  const { spooling } = ctx;
  const spool = spooling?.store.serve(serve$.key);
  const overHighWater = (): boolean => spooling !== undefined && accounts.queuedBytes > spooling.highWaterBytes;
  const toDisk = (): boolean => spool !== undefined && (spool.pending > 0 || overHighWater());
  const spoolWhileBusy: MonoTypeOperatorFunction<Batch> =
    spool === undefined || spooling === undefined
      ? identity
      : toSpoolWhileBusy<Batch>({
          spool,
          overHighWater,
          toSpooled: (batch) => of(spooledOf(batch, scheduler.now())),
          onOutcome: (batch, outcome) => {
            if (outcome !== 'spooled') return;
            accounts.settled(batch); // on disk now: its bytes leave the ledger
            spooling.drainers.kick(spool);
          },
        });
  const spillTo: Spill | undefined =
    spool === undefined || spooling === undefined ? undefined : (batch) => spill(batch, spool, spooling, () => scheduler.now());

  return concat(batches$, finalNotice$).pipe(
    concatMap((batch) => (health.failing || toDisk() ? from(compact(batch)) : of(batch))),
    spoolWhileBusy,
    // mergeMap queues batches beyond `concurrency`; their bytes are still on the ledger.
    mergeMap((batch) => deliver(batch, ctx, accounts, health, spillTo), options.concurrency),
    ignoreElements(),
    finalize(() => {
      // Retired (idle), or the sink stopped: nothing of this lane is left.
      stats.laneClosed(serve$.key);
      ctx.publish();
    }),
  );
}

/**
 * Emits once a serve has had no record for a whole laneIdleMs period (so after one to two of
 * them), judged by its record counter: nothing is added to any record's path. It must not
 * subscribe to the group itself: groupBy counts that as a live subscriber, and would then keep
 * the source, and this timer, alive after the sink is unsubscribed.
 */
export function laneIdle(socketPath: string, ctx: LaneContext): Observable<unknown> {
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
