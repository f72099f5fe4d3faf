// The sink's side of the spool (src/spool): when there is one (--spool-dir), a serve's batches
// that logplex cannot take now go to disk instead of waiting in memory, and come back from there
// oldest first once it takes them again.
//
//   lane:    formed batch ─ gzip when failing/spooling ─ toSpoolWhileBusy ─ deliver (a first failure spills to the spool)
//   drainer: per serve spool, one for the whole sink ─ post (retried for as long as it takes) ─ ack
//
// Per serve, lines reach logplex in the order they were read, with one bounded exception: batches
// already handed to a post slot when logplex starts failing (at most `concurrency` posts, plus the
// ones queued behind them: under the high-water mark) spill to the spool as each one fails, so
// they may land behind a newer batch that was spooled in between.
//
// Past the spool's cap or free-space floor, or after a disk error, the spool refuses batches and
// they go on as without a spool: held in memory on the ledger, retried, dropped (and announced
// with L10) at the buffer cap. What was spooled before still drains first when logplex is back;
// batches held in memory meanwhile are posted alongside it, so that order is not kept.
import { catchError, EMPTY, from, ignoreElements, map, mergeMap, Observable, tap } from '../rx';
import { SpoolDrainers } from '../spool/drain';
import type { SpooledBatch } from '../spool/format';
import type { AppendOutcome, ServeSpool, SpoolStore } from '../spool/store';
import type { Batch } from './batch';
import { batchLostEvent, postFailedEvent, postWithRetries, type DeliveryContext } from './deliver';
import type { RetryPolicy } from './options';
import { gzipFast } from './post';
import type { AttemptFailure } from './retryWithBackoff';
import type { StatsRecorder } from './stats';

/** What a sink with a spool shares between its lanes and its drainers. */
export interface Spooling {
  readonly store: SpoolStore;
  readonly drainers: SpoolDrainers;
  readonly highWaterBytes: number;
}

/** A formed batch as the spool keeps it (its body gzipped beforehand: see gzipped()). */
export function spooledOf(batch: Batch, createdAtMs: number): SpooledBatch {
  return {
    serve: batch.serve,
    body: batch.body,
    gzipped: batch.gzipped === true,
    frameCount: batch.frameCount,
    logFrames: batch.logFrames,
    dropCount: batch.dropCount,
    lostCount: batch.lostCount,
    createdAtMs,
  };
}

/** The batch with its body gzipped, off the event loop; the original body is dropped. */
export async function gzipped(batch: Batch): Promise<Batch> {
  if (batch.gzipped === true) return batch;
  return { ...batch, body: await gzipFast(batch.body), gzipped: true };
}

/** Appends a batch that already failed a post (deliver.ts); resolves whether the spool took it. */
export function spill(batch: Batch, spool: ServeSpool, spooling: Spooling, now: () => number): Observable<AppendOutcome> {
  return from(gzipped(batch)).pipe(
    mergeMap((gz) => spool.append(spooledOf(gz, now()))),
    tap((outcome) => {
      if (outcome === 'spooled') spooling.drainers.kick(spool);
    }),
  );
}

export interface DrainContext extends DeliveryContext {
  readonly stats: StatsRecorder;
  readonly publish: () => void;
}

/**
 * The drainers of a sink: a spooled batch is posted with the sink's retry policy minus its limits
 * (it is on disk, not in memory: waiting costs nothing but the spool's room), and settled on the
 * serve's counters. A permanent refusal (401 for a token revoked since, say) is counted lost like
 * any given-up batch, and acked: it would be refused again.
 */
export function spoolDrainers(ctx: DrainContext): SpoolDrainers {
  const { options, emit, stats } = ctx;
  const policy: RetryPolicy = { ...options.retry, maxAttempts: Number.POSITIVE_INFINITY, maxAgeMs: Number.POSITIVE_INFINITY };
  const post = (batch: SpooledBatch): Observable<never> => {
    const counters = stats.forServe(batch.serve.socketPath, batch.serve.name);
    const onFailure = (f: AttemptFailure): void => {
      if (f.willRetry) counters.requestsRetried += 1;
      emit(postFailedEvent(batch, f));
    };
    return postWithRetries(batch, ctx, policy, onFailure).pipe(
      map((result) => {
        counters.requestsOk += 1;
        counters.framesOut += batch.frameCount;
        counters.bytesOut += result.bytes;
      }),
      ignoreElements(),
      catchError((err: unknown) => {
        counters.requestsFailed += 1;
        counters.lost += batch.logFrames;
        emit(batchLostEvent(batch, batch.logFrames, err));
        return EMPTY;
      }),
      tap({ finalize: ctx.publish }),
    );
  };
  return new SpoolDrainers(post, {
    // A draining serve counts as a lane for the stats: its counters live while it drains.
    started: (spool) => stats.laneOpened(spool.socketPath),
    stopped: (spool) => {
      stats.laneClosed(spool.socketPath);
      ctx.publish();
    },
  });
}
