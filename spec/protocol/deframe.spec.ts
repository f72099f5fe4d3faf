// FrameReader, the framing core: in place when it can, joined once when it must, and holding on
// to nothing it has consumed.
import { FrameReader } from '../../src/protocol/deframe';
import { encodeRaw } from '../../src/protocol/encode';

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
});
