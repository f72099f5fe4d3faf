// FrameReader, the framing core: in place when it can, joined once when it must, and holding on
// to nothing it has consumed.
import { FrameReader } from '../../src/protocol/deframe';
import { encodeRaw } from '../../src/protocol/encode';
import { ProtocolError } from '../../src/protocol/errors';
import { Budget } from '../../src/budget';

interface Seen {
  readonly type: string;
  readonly payload: string;
  readonly inPlace: boolean; // handed out as a window on the pushed chunk
}

function reader(): { push: (chunk: Buffer) => Seen[]; frames: FrameReader } {
  const frames = new FrameReader(1024 * 1024);
  return {
    frames,
    push: (chunk) => {
      const seen: Seen[] = [];
      frames.push(chunk, (type, buf, start, end) => {
        seen.push({ type: String.fromCharCode(type), payload: buf.toString('latin1', start, end), inPlace: buf === chunk });
      });
      return seen;
    },
  };
}

const a = encodeRaw('L', Buffer.from('first'));
const b = encodeRaw('L', Buffer.from('second'));

describe('FrameReader', () => {
  it('hands out frames that sit inside one chunk in place, without a copy', () => {
    const { push, frames } = reader();
    expect(push(Buffer.concat([a, b]))).toEqual([
      { type: 'L', payload: 'first', inPlace: true },
      { type: 'L', payload: 'second', inPlace: true },
    ]);
    expect(frames.bufferedBytes).toBe(0);
  });

  it('joins a frame spread over chunks once, when its last byte arrives', () => {
    const { push, frames } = reader();
    expect(push(a.subarray(0, 2))).toEqual([]);
    expect(frames.bufferedBytes).toBe(2);
    expect(push(a.subarray(2, 7))).toEqual([]);
    expect(frames.bufferedBytes).toBe(7);
    expect(push(Buffer.concat([a.subarray(7), b]))).toEqual([
      { type: 'L', payload: 'first', inPlace: false },
      { type: 'L', payload: 'second', inPlace: true },
    ]);
    expect(frames.bufferedBytes).toBe(0);
  });

  it('copies the unconsumed tail of a chunk, so the chunk itself is not kept alive', () => {
    const { push } = reader();
    const chunk = Buffer.concat([a, b.subarray(0, 8)]);
    expect(push(chunk)).toHaveLength(1);
    chunk.fill(0x21); // had the reader kept a window on the chunk, this would corrupt "second"
    expect(push(b.subarray(8))).toEqual([{ type: 'L', payload: 'second', inPlace: false }]);
  });

  it('handles an empty chunk and an empty payload', () => {
    const { push } = reader();
    expect(push(Buffer.alloc(0))).toEqual([]);
    expect(push(encodeRaw('V', Buffer.alloc(0)))).toEqual([{ type: 'V', payload: '', inPlace: true }]);
  });

  it('copies small reads into one buffer of its own and keeps none of them', () => {
    // A 1 MiB record sent one byte per write cost ~200 bytes of RSS per byte when every read was
    // kept as a Buffer; now each read is copied and can go.
    const big = encodeRaw('L', Buffer.alloc(150 * 1024, 0x61));
    const { frames } = reader();
    const seen: string[] = [];
    for (let at = 0; at < big.length; at++) {
      const chunk = Buffer.from(big.subarray(at, at + 1));
      frames.push(chunk, (_type, buf, start, end) => seen.push(buf.toString('latin1', start, end)));
      chunk.fill(0x21); // a chunk kept by the reader would corrupt the frame
      if (at + 1 < big.length && at % 997 === 0) {
        expect(frames.bufferedBytes).toBe(at + 1);
        // In steps of 64 KiB as the bytes arrive, never the announced size up front.
        expect(frames.heldBytes).toBe(at + 1 < 5 ? 0 : Math.min(big.length, 64 * 1024 * Math.ceil((at + 1) / (64 * 1024)))); // the header alone: none
      }
    }
    expect(seen).toEqual(['a'.repeat(150 * 1024)]);
    expect(frames.heldBytes).toBe(0);
  });

  it('copies a partial record into one buffer made once, counting what arrived, not what was announced', () => {
    // 200 half-sent 1 MiB records at a 64 MiB cap grew RSS by 82 MB when the buffer grew by
    // doubling: each old buffer was garbage waiting for the collector.
    const record = encodeRaw('L', Buffer.alloc(1024 * 1024 - 1024, 0x64));
    const { frames } = reader();
    const seen: Buffer[] = [];
    const onFrame = (_type: number, buf: Buffer, start: number, end: number): void => void seen.push(Buffer.from(buf.subarray(start, end)));
    const read = 64 * 1024;
    for (let at = 0; at + read < record.length; at += read) {
      frames.push(Buffer.from(record.subarray(at, at + read)), onFrame);
      expect(frames.heldBytes).toBe(at + read); // what arrived, in 64 KiB steps: never a doubled buffer
    }
    const tail = Buffer.from(record.subarray(record.length - 1000));
    frames.push(Buffer.from(record.subarray(Math.floor(record.length / read) * read, record.length - 1000)), onFrame);
    expect(frames.heldBytes).toBe(record.length); // counted up to the frame's size, no further
    frames.push(tail, onFrame);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.equals(record.subarray(5))).toBe(true);
    expect(frames.heldBytes).toBe(0);
  });

  it('holds what all readers sharing a budget buffer within it, and gives it back', () => {
    const budget = new Budget(200 * 1024);
    const one = new FrameReader(1024 * 1024, undefined, budget);
    const two = new FrameReader(1024 * 1024, undefined, budget);
    const ignore = (): void => undefined;
    const record = encodeRaw('L', Buffer.alloc(512 * 1024, 0x62));
    one.push(record.subarray(0, 100 * 1024), ignore); // 128 KiB held
    expect(budget.held).toBe(one.heldBytes);
    let refused: unknown;
    try {
      two.push(record.subarray(0, 100 * 1024), ignore); // 128 more would pass 200 KiB
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(ProtocolError);
    expect((refused as ProtocolError).code).toBe('LOGFEBE_PARTIAL_LIMIT');
    expect((refused as ProtocolError).message).toMatch(/unfinished L message of 524293 bytes .* over the 204800 bytes/);
    two.discard();
    expect(budget.held).toBe(one.heldBytes);
    one.discard();
    expect(budget.held).toBe(0);
    // A frame that completes gives its bytes back too; frames within one chunk take nothing.
    const small = encodeRaw('L', Buffer.alloc(1000, 0x63));
    one.push(small.subarray(0, 10), ignore);
    expect(budget.held).toBe(small.length);
    one.push(Buffer.concat([small.subarray(10), small]), ignore);
    expect(budget.held).toBe(0);
  });
});

