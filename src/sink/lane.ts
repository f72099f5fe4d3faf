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
  merge,
  mergeMap,
  of,
  pairwise,
  startWith,
  Subject,
  take,
  identity,
  tap,
  type GroupedObservable,
  type Observable,
  type MonoTypeOperatorFunction,
  type Subscription,
} from '../rx';
import { sameDelivery, type Serve } from '../servedb/serve';
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
  readonly publishSoon: () => void;
  /** The serve at this socket path as the serve set has it now; undefined when unknown. */
  readonly currentServe: (socketPath: string) => Serve | undefined;
  readonly spooling: Spooling | undefined; // with --spool-dir: spooling.ts
}

export function serveLane(serve$: GroupedObservable<string, SourcedRecord>, ctx: LaneContext): Observable<never> {
  const { options, format, emit, scheduler, stats } = ctx;
  const socketPath = serve$.key;
  stats.laneOpened(socketPath);
  const now = (): Date => new Date(scheduler.now());

  // Counts pending with no record to carry them go out alone (a `notice` batch) within a flush
  // interval: a quiet serve's drop notice used to wait for its next record, or for shutdown.
  // One at a time, so an outage queues one notice and not one per interval. A notice refused
  // for good (a revoked token, say) is not retried with the same delivery: the counts wait for
  // a record's batch or a new token, and the lane's last batch, rather than posting every interval.
  const notices = new Subject<Batch>();
  let noticeTimer: Subscription | undefined;
  let noticeOut = false; // a notice batch formed and not yet settled
  let refused: Serve | undefined; // the delivery a notice batch was last given up with
  let ended = false; // no record will come: the lane's last batch takes what is pending
  /** Notices go out as the serve set has the serve now: a token fixed since the last record applies. */
  const current = (): Serve | undefined => ctx.currentServe(socketPath) ?? accounts.latest;
  const scheduleNotice = (): void => {
    if (noticeTimer !== undefined || ended) return;
    noticeTimer = scheduler.schedule(() => {
      noticeTimer = undefined;
      sendNotice();
    }, options.flushIntervalMs);
  };
  const sendNotice = (): void => {
    if (ended || noticeOut || !accounts.hasUnannounced()) return;
    const serve = current();
    if (serve === undefined) return;
    if (refused !== undefined && sameDelivery(refused, serve)) {
      scheduleNotice(); // look again: the serve set may change the token
      return;
    }
    noticeOut = true;
    notices.next(formBatch('notice', serve, undefined, now(), accounts, ctx));
  };

  const accounts = new LaneAccounts({
    socketPath,
    capBytes: options.bufferCapBytes,
    stats,
    emit,
    publish: ctx.publish,
    publishSoon: ctx.publishSoon,
    scheduler,
    onPending: scheduleNotice,
  });

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
      const batch = formBatch('records', filled.last.serve, filled, now(), accounts, ctx);
      accounts.formed();
      return batch;
    }),
    tap({
      complete: () => {
        ended = true;
        noticeTimer?.unsubscribe();
        notices.complete();
      },
    }),
  );

  const health: Health = {
    failing: false,
    settled: (batch, delivered) => {
      if (delivered) refused = undefined;
      if (batch.kind !== 'notice') return;
      noticeOut = false;
      if (!delivered) refused = batch.serve;
      scheduleNotice(); // counts that came while it was out, or its own put back
    },
  };
  // A body under NOTICE_ROOM_BYTES (a notice, a quiet serve's few lines) would save at most a
  // few KiB held: it waits as it is, without a trip through zlib.
  const compact = async (batch: Batch): Promise<Batch> => {
    const gz = await gzipFast(batch.body);
    ctx.bodies.give(batch.body); // never sent: nothing else reads it
    return { ...batch, body: gz, gzipped: true };
  };

  // With a spool: while it holds anything of this serve, or memory is past the high-water mark,
  // batches go to disk (gzipped) behind what is there; see spooling.ts.
  const { spooling } = ctx;
  const spool = spooling?.store.serve(socketPath);
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
            health.settled(batch, true); // handed over: a notice in it counts as out of our hands
            spooling.drainers.kick(spool);
          },
        });
  const spillTo: Spill | undefined =
    spool === undefined || spooling === undefined ? undefined : (batch) => spill(batch, spool, spooling, () => scheduler.now());

  const posted$ = merge(batches$, notices).pipe(
    concatMap((batch) => ((health.failing && batch.body.length >= NOTICE_ROOM_BYTES) || toDisk() ? from(compact(batch)) : of(batch))),
    spoolWhileBusy,
    // mergeMap queues batches beyond `concurrency`; their bytes are still on the ledger.
    mergeMap((batch) => deliver(batch, ctx, accounts, health, spillTo), options.concurrency),
  );

  // What is still unannounced once every other post has settled (drops after the last batch
  // formed, the loss of a batch that was still retrying) would otherwise never be told to logplex.
  const last$ = defer(() => {
    const serve = current();
    return serve !== undefined && accounts.hasUnannounced() ? deliver(formBatch('last', serve, undefined, now(), accounts, ctx), ctx, accounts, health) : EMPTY;
  });

  return concat(posted$, last$).pipe(
    ignoreElements(),
    finalize(() => {
      // Retired (idle), or the sink stopped: nothing of this lane is left.
      noticeTimer?.unsubscribe();
      stats.laneClosed(socketPath);
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
