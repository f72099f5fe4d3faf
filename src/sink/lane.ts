// One serve's lane: records → fillBodies → batch → outbox. Its records are written into bodies
// (fillBodies.ts) and admitted to the serve's ledger, each closed body becomes a batch opened by
// its L10 notices (batch.ts), and the batch is handed to the serve's outbox (outbox.ts), which
// alone decides what becomes of it.
//
// A lane ends when its serve has had no record for a whole laneIdleMs (judged by the outbox's
// record counter, so nothing is added to a record's path), or when the sink's input ends: its
// open body is flushed into a last batch, and the outbox is told.
import { Subject, type Subscription } from '../rx';
import { sameDelivery } from '../servedb/serve';
import type { SourcedRecord } from '../source/sourcedRecord';
import { serveFields } from './attempts';
import { formBatch, NOTICE_ROOM_BYTES } from './batch';
import { fillBodies } from './fillBodies';
import type { Outbox, OutboxContext } from './outbox';

export class Lane {
  readonly #records = new Subject<SourcedRecord>();
  readonly #subscription: Subscription;
  #idle: Subscription;

  /** Opens a lane into `outbox`; `ended` is called once its last batch is submitted. */
  constructor(
    readonly outbox: Outbox,
    ctx: OutboxContext,
    ended: (lane: Lane) => void,
  ) {
    const { options, format, emit, scheduler } = ctx;
    outbox.laneOpened();
    const write = (rec: SourcedRecord, target: Buffer, at: number, end: number): number => {
      try {
        return format.write(rec, target, at, end);
      } catch (err) {
        // One unrenderable record must not stop a serve's logs.
        outbox.formatFailed(rec.serve);
        emit({ kind: 'format_failed', level: 'error', ...serveFields(rec.serve), error: err instanceof Error ? err.message : String(err) });
        return 0; // skipped
      }
    };
    const finish = (): void => {
      this.#idle.unsubscribe();
      ended(this);
      outbox.laneEnded();
    };
    this.#subscription = this.#records
      .pipe(
        fillBodies<SourcedRecord>({
          maxFrames: options.maxBatchFrames,
          maxBytes: options.maxBatchBytes,
          flushIntervalMs: options.flushIntervalMs,
          headroom: NOTICE_ROOM_BYTES,
          write,
          framesOf: format.frames,
          accept: (rec, bytes, frames) => outbox.admit(rec.serve, bytes, frames),
          // Cut when the serve's delivery changed mid-batch, so each POST goes out with the credentials its frames were made for.
          startsNewBody: (last, next) => last.serve !== next.serve && !sameDelivery(last.serve, next.serve),
          bodies: ctx.bodies,
          scheduler,
        }),
      )
      .subscribe({
        next: (filled) => outbox.submit(formBatch('records', filled.last.serve, filled, new Date(scheduler.now()), outbox, ctx)),
        complete: finish,
        error: (err: unknown) => {
          finish();
          ctx.ended(outbox, err);
        },
      });
    // Ends the lane once a whole laneIdleMs passed without a record (so after one to two of them).
    let seen = outbox.recordsIn;
    const look = (): void => {
      if (outbox.recordsIn === seen) {
        this.end();
        return;
      }
      seen = outbox.recordsIn;
      this.#idle = scheduler.schedule(look, options.laneIdleMs);
    };
    this.#idle = scheduler.schedule(look, options.laneIdleMs);
  }

  push(rec: SourcedRecord): void {
    this.#records.next(rec);
  }

  /** Flushes the open body into a last batch, then tells the outbox. */
  end(): void {
    this.#records.complete();
  }

  /** Abrupt: the open body is dropped, timers cleared. */
  abort(): void {
    this.#idle.unsubscribe();
    this.#subscription.unsubscribe();
  }
}
