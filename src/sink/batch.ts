// A closed body becomes a batch: the L10 frames for whatever was dropped or lost since the last
// batch are written into the room kept free in front of its records (fillBodies.ts), and what
// the batch carries is noted for its outbox (outbox.ts) and the POST (post.ts).
import type { EventSink } from '../events';
import type { Serve } from '../servedb/serve';
import type { SourcedChunk } from '../source/sourcedRecord';
import type { BodyPool } from './bodyPool';
import type { SinkEvent } from './events';
import type { FilledBody } from './fillBodies';
import type { SinkFormatter } from './formatter';
import { serveFields } from './attempts';
import type { Announced } from './ledger';
import type { OutgoingBatch } from './post';

/** Bytes a body keeps free in front of its records for the L10 notices that open it (a small body keeps less: fillBodies.ts). */
export const NOTICE_ROOM_BYTES = 4096;

/**
 * `records`: a body of records (opened by notices when counts were pending); `notice`: notices
 * alone, formed on a timer because no record came to carry them; `last`: notices alone, formed
 * when the lane ends: nothing after it could announce its counts again.
 */
export type BatchKind = 'records' | 'notice' | 'last';

/** A formed batch: body built, bytes on the ledger until the post ends. */
export interface Batch extends OutgoingBatch {
  readonly kind: BatchKind;
  readonly logFrames: number; // frames from records (what is lost if the batch is)
  readonly noticeFrames: number; // L10 frames in front of them
  readonly ledgerBytes: number; // what to release from the serve's queue when done
  readonly announced: Announced;
}

/** Where a batch being formed takes the counts it announces (a serve's outbox). */
export interface NoticeLedger {
  /** The counts to announce, now the batch's (given back if it is lost). */
  takeUnannounced(): Announced;
  /** The L10 frames announcing them: a few hundred bytes, on the ledger even over the cap. */
  reserveNotices(noticeBytes: number): void;
}

export interface BatchContext {
  readonly format: SinkFormatter;
  readonly emit: EventSink<SinkEvent>;
  readonly bodies: BodyPool;
}

/**
 * The batch for `filled` (or a notice-only one when undefined), going out as `serve`, opened by
 * L10 frames for whatever `accounts` has not announced yet.
 */
export function formBatch(
  kind: BatchKind,
  serve: Serve,
  filled: FilledBody<SourcedChunk> | undefined,
  at: Date,
  accounts: NoticeLedger,
  ctx: BatchContext,
): Batch {
  const { format, emit } = ctx;
  const announced = accounts.takeUnannounced();
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
  accounts.reserveNotices(noticeBytes);
  const body = filled === undefined ? Buffer.concat(notices, noticeBytes) : openWith(filled, notices, noticeBytes, ctx.bodies);
  const logFrames = filled?.frames ?? 0;
  return {
    kind,
    serve,
    body,
    frameCount: notices.length + logFrames,
    noticeFrames: notices.length,
    dropCount: announced.dropped?.count ?? 0,
    lostCount: announced.lost?.count ?? 0,
    logFrames,
    ledgerBytes: body.length,
    announced,
  };
}

/**
 * The body of a closed batch: `notices` written into the room in front of its records. A body
 * less than half its buffer (a serve slowing down, a lone small record in a pooled buffer) is
 * copied out at its size and the buffer given back now, so that what waits in a queue, through
 * an outage say, is what the ledger counts.
 */
function openWith(filled: FilledBody<SourcedChunk>, notices: readonly Buffer[], noticeBytes: number, bodies: BodyPool): Buffer {
  const { buffer, end } = filled;
  const start = filled.start - noticeBytes;
  if (start < 0) {
    // Notices longer than the room (a small body's, or a hostname of hundreds of bytes): copy
    // once, only when something was dropped or lost.
    bodies.give(buffer);
    return Buffer.concat([...notices, buffer.subarray(filled.start, end)]);
  }
  let at = start;
  for (const n of notices) at += n.copy(buffer, at);
  const body = buffer.subarray(start, end);
  if (body.length * 2 >= buffer.length) return body;
  const own = Buffer.from(body);
  bodies.give(buffer);
  return own;
}
