// A closed body becomes a batch: its L10 notices go into the room in front of its records when
// they fit (a full-size body keeps NOTICE_ROOM_BYTES), and are copied in front of them when they
// do not (a quiet serve's small body keeps a quarter of itself).
import { formBatch, type NoticeLedger } from '../../src/sink/batch';
import { BodyPool } from '../../src/sink/bodyPool';
import type { FilledBody } from '../../src/sink/fillBodies';
import type { SourcedChunk } from '../../src/source/sourcedRecord';
import { makeRecord, makeServe, msgOf, parseFrames, stubFormatter } from './support';

const serve = makeServe('http://127.0.0.1:1/logs');
const since = new Date('2026-11-25T01:43:51Z');
const TEXT = 'h'.repeat(3000); // a body more than half its buffer: it goes out as a view, not copied
const chunk: SourcedChunk = { serve, records: [makeRecord(serve, TEXT).message], receivedAt: since.getTime() };

/** A body of `start` bytes of room, then the stub's frames for TEXT. */
function filledBody(start: number, pool: BodyPool): FilledBody<SourcedChunk> {
  const buffer = pool.take(start + 4096);
  const end = start + stubFormatter.write(serve, chunk.records[0] as SourcedChunk['records'][0], chunk.receivedAt, buffer, start, start + 4096);
  return { buffer, start, end, frames: 1, last: chunk };
}

/** A ledger with `dropped` records to announce. */
const ledger = (dropped: number): NoticeLedger => ({
  takeUnannounced: () => ({ dropped: { count: dropped, since }, lost: { count: 1, since } }),
  reserveNotices: () => undefined,
});

describe('formBatch', () => {
  const pool = new BodyPool(512 + 4096, 4);
  const ctx = { format: stubFormatter, emit: () => undefined, bodies: pool };

  it('writes the notices into the room in front of the records when they fit', () => {
    const filled = filledBody(512, pool); // room for both notices
    const batch = formBatch('records', serve, filled, since, ledger(3), ctx);
    expect(batch.body.buffer === filled.buffer.buffer).toBe(true); // no copy: a view on the body
    expect(parseFrames(batch.body).map(msgOf)).toEqual([
      expect.stringMatching(/3 messages dropped/),
      expect.stringMatching(/1 messages lost/),
      TEXT,
    ]);
    expect(batch).toMatchObject({ frameCount: 3, noticeFrames: 2, logFrames: 1, dropCount: 3, lostCount: 1 });
  });

  it("copies notices longer than a small body's room in front of its records", () => {
    const filled = filledBody(64, pool); // two notices take some 300 bytes
    const batch = formBatch('records', serve, filled, since, ledger(3), ctx);
    expect(parseFrames(batch.body).map(msgOf)).toEqual([
      expect.stringMatching(/3 messages dropped/),
      expect.stringMatching(/1 messages lost/),
      TEXT,
    ]);
    expect(batch.ledgerBytes).toBe(batch.body.length);
  });
});
