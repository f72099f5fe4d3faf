// A closed body becomes a batch: the L10 frames for whatever was dropped or lost since the last
// batch are written into the room kept free in front of its records (fillBodies.ts), and what
// the batch carries is noted for the accounts (laneAccounts.ts) and the POST (post.ts).
import type { EventSink } from '../events';
import type { Serve } from '../servedb/serve';
import type { SourcedRecord } from '../source/sourcedRecord';
import type { BodyPool } from './bodyPool';
import type { SinkEvent } from './events';
import type { FilledBody } from './fillBodies';
import type { SinkFormatter } from './formatter';
import { serveFields, type Announced, type LaneAccounts } from './laneAccounts';
import type { OutgoingBatch } from './post';

/** Bytes a body keeps free in front of its records for the L10 notices that open it. */
export const NOTICE_ROOM_BYTES = 4096;

/** A formed batch: body built, bytes on the ledger until the post ends. */
export interface Batch extends OutgoingBatch {
  readonly logFrames: number; // frames from records (what is lost if the batch is)
  readonly ledgerBytes: number; // what to release from the serve's queue when done
  readonly announced: Announced;
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
export function formBatch(serve: Serve, filled: FilledBody<SourcedRecord> | undefined, at: Date, accounts: LaneAccounts, ctx: BatchContext): Batch {
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
    serve,
    body,
    frameCount: notices.length + logFrames,
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
function openWith(filled: FilledBody<SourcedRecord>, notices: readonly Buffer[], noticeBytes: number, bodies: BodyPool): Buffer {
  const { buffer, end } = filled;
  const start = NOTICE_ROOM_BYTES - noticeBytes;
  if (start < 0) {
    // Notices longer than the room (a hostname of hundreds of bytes, say): copy once, rarely.
    bodies.give(buffer);
    return Buffer.concat([...notices, buffer.subarray(NOTICE_ROOM_BYTES, end)]);
  }
  let at = start;
  for (const n of notices) at += n.copy(buffer, at);
  const body = buffer.subarray(start, end);
  if (body.length * 2 >= buffer.length) return body;
  const own = Buffer.from(body);
  bodies.give(buffer);
  return own;
}
