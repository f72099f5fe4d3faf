// One serve's lane: chunks of records → BodyFiller → batch → outbox. Its records are written into
// bodies (fillBodies.ts) and admitted to the serve's ledger, each closed body becomes a batch
// opened by its L10 notices (batch.ts), and the batch is handed to the serve's outbox (outbox.ts),
// which alone decides what becomes of it.
//
// A lane is a plain object the sink calls: no Subject, subscription or closure of its own, and no
// timer either: its body's flush and its idle check are deadlines on queues shared by every lane
// of the sink (LaneShared), so 10,000 quiet serves cost 10,000 small objects, not 10,000 timers.
//
// A lane ends when its serve has had no record for a whole laneIdleMs (judged by the outbox's
// record counter, so nothing is added to a record's path), or when the sink's input ends: its
// open body is flushed into a last batch, and the outbox is told.
import type { RecordMessage } from '../protocol/messages';
import { sameDelivery } from '../servedb/serve';
import type { SourcedChunk } from '../source/sourcedRecord';
import { serveFields } from './attempts';
import { formBatch } from './batch';
import type { Deadlines, Expiring } from './deadlines';
import { BodyFiller, type BodyWriter, type FilledBody, type FillLimits } from './fillBodies';
import type { Outbox, OutboxContext } from './outbox';

/** What every lane of a sink shares: the body limits and the two deadline queues. */
export interface LaneShared {
  readonly limits: FillLimits;
  readonly flushDeadlines: Deadlines; // flushIntervalMs: an open body's first record waits no longer
  readonly idleDeadlines: Deadlines; // laneIdleMs: a lane without records that long ends
}

export class Lane implements BodyWriter<SourcedChunk>, Expiring {
  readonly #ctx: OutboxContext;
  readonly #shared: LaneShared;
  readonly #ended: (lane: Lane) => void;
  readonly #filler: BodyFiller<SourcedChunk>;
  #seen: number; // the outbox's record count at the last idle check
  #done = false; // ended or aborted

  /** Opens a lane into `outbox`; `ended` is called once its last batch is submitted. */
  constructor(
    readonly outbox: Outbox,
    ctx: OutboxContext,
    shared: LaneShared,
    ended: (lane: Lane) => void,
  ) {
    this.#ctx = ctx;
    this.#shared = shared;
    this.#ended = ended;
    this.#filler = new BodyFiller(shared.limits, this, shared.flushDeadlines);
    outbox.laneOpened();
    // Ends the lane once a whole laneIdleMs passed without a record (so after one to two of them).
    this.#seen = outbox.recordsIn;
    shared.idleDeadlines.add(this, 0);
  }

  /** Writes every record of `chunk` (all of this lane's serve). */
  push(chunk: SourcedChunk): void {
    if (this.#done) return;
    try {
      this.#filler.push(chunk);
    } catch (err) {
      // The writer broke its contract: a bug, which fails the sink.
      this.#finish();
      this.#ctx.ended(this.outbox, err);
    }
  }

  /** Flushes the open body into a last batch, then tells the outbox. */
  end(): void {
    if (this.#done) return;
    this.#filler.flush();
    this.#finish();
  }

  /** Abrupt: the open body is dropped. */
  abort(): void {
    this.#done = true;
    this.#filler.drop();
  }

  // ── the idle check (Expiring) ─────────────────────────────────────────────────────────────

  expire(): void {
    if (this.#done) return;
    const now = this.outbox.recordsIn;
    if (now === this.#seen) {
      this.end();
      return;
    }
    this.#seen = now;
    this.#shared.idleDeadlines.add(this, 0);
  }

  // ── how its chunks are written (BodyWriter) ───────────────────────────────────────────────

  count(chunk: SourcedChunk): number {
    return chunk.records.length;
  }

  write(chunk: SourcedChunk, target: Buffer, at: number, end: number, index: number): number {
    const { format, emit } = this.#ctx;
    try {
      return format.write(chunk.serve, chunk.records[index] as RecordMessage, chunk.receivedAt, target, at, end);
    } catch (err) {
      // One unrenderable record must not stop a serve's logs.
      this.outbox.formatFailed(chunk.serve);
      emit({ kind: 'format_failed', level: 'error', ...serveFields(chunk.serve), error: err instanceof Error ? err.message : String(err) });
      return 0; // skipped
    }
  }

  frames(): number {
    return this.#ctx.format.frames();
  }

  accept(chunk: SourcedChunk, bytes: number, frames: number): boolean {
    return this.outbox.admit(chunk.serve, bytes, frames);
  }

  /** Cut when the serve's delivery changed mid-batch, so each POST goes out with the credentials its frames were made for. */
  startsNewBody(last: SourcedChunk, next: SourcedChunk): boolean {
    return last.serve !== next.serve && !sameDelivery(last.serve, next.serve);
  }

  filled(body: FilledBody<SourcedChunk>): void {
    const ctx = this.#ctx;
    this.outbox.submit(formBatch('records', body.last.serve, body, new Date(ctx.scheduler.now()), this.outbox, ctx));
  }

  #finish(): void {
    this.#done = true;
    this.#ended(this);
    this.outbox.laneEnded();
  }
}
