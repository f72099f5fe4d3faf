// Draining a serve's spool: its batches posted one at a time, oldest first, each acked (never
// handed out again, even after a restart) once its post settled it. The serve's outbox
// (sink/outbox.ts) runs it and decides what a post does; this is only the walk over the spool.
//
// One post at a time is what keeps a serve's lines in order through an outage; it is also fast
// enough: the bench's 120 s outage at 5,000 records/s spools ~60 MB of gzip in ~600 batches of
// 1 MiB of frames, which one connection posts in seconds.
import { concat, concatMap, defer, ignoreElements, Observable, of, repeat, takeWhile } from '../rx';
import type { SpooledBatch } from './format';
import type { ServeSpool } from './store';

/**
 * What became of one spooled batch's post: `settled` (delivered, or given up for good: acked,
 * gone from the spool) or `left` (still pending on disk: the drain stops, and the batch is
 * posted by a later drain or after a restart).
 */
export type DrainOutcome = 'settled' | 'left';

const END = Symbol('end of drain');

/**
 * Posts the spool's batches oldest first, emitting each once it is acked, and completes when the
 * spool has none left, when `more()` says no before the next is taken, or when `post` leaves one.
 * `post` emits one outcome and completes; it should not error. Unsubscribing leaves the batch in
 * flight pending on disk: it is posted again after a restart (at most one duplicate per serve).
 */
export function drainSpool(spool: ServeSpool, post: (batch: SpooledBatch) => Observable<DrainOutcome>, more: () => boolean = () => true): Observable<SpooledBatch> {
  return defer(() => (more() ? spool.next() : of(undefined))).pipe(
    concatMap((entry) =>
      entry === undefined
        ? of(END)
        : post(entry.batch).pipe(
            concatMap((outcome) => (outcome === 'left' ? of(END) : concat(defer(() => spool.ack(entry)).pipe(ignoreElements()), of(entry.batch)))),
          ),
    ),
    repeat(), // the next batch; repeat resubscribes without nesting, however long the spool
    takeWhile((x): x is SpooledBatch => x !== END),
  );
}
