// FEBE framing (type byte, int32 length counting itself, payload), incremental over socket
// chunks cut anywhere. A frame that sits inside one chunk is handed out in place, without a copy;
// only a frame spread over several chunks is copied, piece by piece as it arrives, into one
// buffer of its whole size, so framing stays linear however the stream is cut (one byte per chunk
// included), and what all readers hold for unfinished frames is bounded by the Budget they share.
import { ProtocolError, describeByte } from './errors';
import { Budget } from '../budget';

export const TYPE_V = 0x56;
export const TYPE_I = 0x49;
export const TYPE_L = 0x4c;

export type FrameType = 'V' | 'I' | 'L';

const HEADER_BYTES = 5; // type byte + int32 length
const MIN_LENGTH = 4; // the length field counts itself
// What an unfinished frame holds is counted in steps of this size as its bytes arrive: a frame up
// to this size (real records are 150-600 bytes) counts whole from its header on, a header that
// announces a megabyte counts one step, not a megabyte. 64 KiB is one socket read.
const STEP_BYTES = 64 * 1024;

/** One whole message. `payload` may share memory with the chunk it came in. */
export interface Frame {
  readonly type: FrameType;
  readonly payload: Buffer;
}

/**
 * A complete frame: its payload is `buf[start, end)`. The reader never writes into `buf` again
 * (a chunk is the caller's, a frame assembled across chunks gets a buffer of its own), so the
 * payload may be kept; only an empty payload lies in the reader's header scratch.
 */
export type FrameHandler = (type: number, buf: Buffer, start: number, end: number) => void;

/** Lets the owner refuse a frame by type as soon as its header arrives (message order). */
export type HeaderCheck = (type: number) => void;

const acceptAnyOrder: HeaderCheck = () => undefined;

export function frameTypeName(type: number): FrameType {
  switch (type) {
    case TYPE_V:
      return 'V';
    case TYPE_I:
      return 'I';
    case TYPE_L:
      return 'L';
    default:
      throw new ProtocolError('LOGFEBE_UNKNOWN_TYPE', `message type ${describeByte(type)} is not V, I or L`);
  }
}

const withArticle = (name: FrameType): string => (name === 'V' ? 'a V' : `an ${name}`);

/** The synchronous framing core; throws ProtocolError. */
export class FrameReader {
  // The frame not yet whole, header included, copied into one buffer of its whole size as it
  // arrives: small reads cost their bytes, not a Buffer each (a 1 MiB record sent one byte per
  // write took ~200 bytes of RSS per byte when every read was kept), and the buffer is made once.
  // It used to grow by doubling: every old buffer was garbage until the next collection, and 200
  // half-sent 1 MiB records grew RSS by 82 MB with a 64 MiB cap. Memory the allocator has not
  // handed out before costs nothing until written, so the budget counts what has arrived (in
  // STEP_BYTES), not what was announced. Never holds a consumed byte, nor a chunk.
  private partial: Buffer | undefined;
  private held = 0; // taken from the budget for `partial`
  private pendingBytes = 0; // bytes of the unfinished frame received (in `partial`, or in `header`)
  private frameBytes = -1; // whole size (header included) of the pending frame; -1 until its header is in
  private frameType = 0;
  private readonly header = Buffer.alloc(HEADER_BYTES); // a header cut across chunks is assembled here

  constructor(
    private readonly maxMessageBytes: number,
    private readonly checkOrder: HeaderCheck = acceptAnyOrder,
    // Bytes all connections' unfinished messages may hold together (a header announcing a 1 MiB
    // record makes its connection buffer until the last byte); shared by their readers.
    private readonly budget: Budget = new Budget(Infinity),
  ) {}

  /** Bytes received that do not yet make a whole frame. */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  /** What this reader's unfinished frame counts against the budget: what arrived, in steps of 64 KiB. */
  get heldBytes(): number {
    return this.held;
  }

  push(chunk: Buffer, onFrame: FrameHandler): void {
    if (chunk.length === 0) return;
    let pos = 0;
    if (this.pendingBytes > 0) {
      pos = this.completePending(chunk, onFrame);
      if (pos < 0) return;
    }
    const length = chunk.length;
    while (length - pos >= HEADER_BYTES) {
      const type = chunk[pos];
      const messageLength = chunk.readInt32BE(pos + 1);
      this.checkHeader(type, messageLength);
      const frameEnd = pos + 1 + messageLength;
      if (frameEnd > length) {
        this.frameType = type;
        this.frameBytes = 1 + messageLength;
        this.keep(chunk, pos, length);
        return;
      }
      onFrame(type, chunk, pos + HEADER_BYTES, frameEnd);
      pos = frameEnd;
    }
    if (pos < length) {
      chunk.copy(this.header, 0, pos, length);
      this.pendingBytes = length - pos;
    }
  }

  /** Call when the stream ends: a frame cut short is a violation worth a log line. */
  end(): void {
    if (this.pendingBytes === 0) return;
    const received = this.pendingBytes;
    this.discard();
    if (this.frameBytes < 0) {
      throw new ProtocolError(
        'LOGFEBE_TRUNCATED_MESSAGE',
        `stream ended inside a message header (${received} of its ${HEADER_BYTES} bytes received)`,
      );
    }
    throw new ProtocolError(
      'LOGFEBE_TRUNCATED_MESSAGE',
      `stream ended inside ${withArticle(frameTypeName(this.frameType))} message (${received} of its ${this.frameBytes} bytes received)`,
    );
  }

  /** Drops the unfinished frame and gives its bytes back to the budget (the connection is done). */
  discard(): void {
    this.budget.give(this.held);
    this.held = 0;
    this.partial = undefined;
    this.pendingBytes = 0;
  }

  /** Appends chunk[start, end) to the pending frame, counting it against the budget. */
  private keep(chunk: Buffer, start: number, end: number): void {
    const needed = this.pendingBytes + end - start;
    const counted = Math.min(this.frameBytes, Math.ceil(needed / STEP_BYTES) * STEP_BYTES);
    if (counted > this.held) {
      if (!this.budget.take(counted - this.held)) {
        throw new ProtocolError(
          'LOGFEBE_PARTIAL_LIMIT',
          `an unfinished ${frameTypeName(this.frameType)} message of ${this.frameBytes} bytes would take unfinished messages ` +
            `over the ${this.budget.limit} bytes all connections may hold together (${this.budget.held} held)`,
        );
      }
      this.held = counted;
    }
    let partial = this.partial;
    if (partial === undefined) {
      // Its own memory, not a slice of Node's shared pool: a pooled slice would keep 8 KiB alive.
      partial = Buffer.allocUnsafeSlow(this.frameBytes);
      this.partial = partial;
      // A header assembled across chunks is the frame's first bytes.
      if (this.pendingBytes > 0) this.header.copy(partial, 0, 0, this.pendingBytes);
    }
    chunk.copy(partial, this.pendingBytes, start, end);
    this.pendingBytes = needed;
  }

  // Returns how much of `chunk` finished the pending frame, or -1 when all of it went to pending.
  private completePending(chunk: Buffer, onFrame: FrameHandler): number {
    let used = 0;
    if (this.frameBytes < 0) {
      const headerMissing = HEADER_BYTES - this.pendingBytes;
      if (chunk.length < headerMissing) {
        chunk.copy(this.header, this.pendingBytes);
        this.pendingBytes += chunk.length;
        return -1;
      }
      chunk.copy(this.header, this.pendingBytes, 0, headerMissing);
      const type = this.header[0];
      const messageLength = this.header.readInt32BE(1);
      this.checkHeader(type, messageLength);
      this.frameType = type;
      this.frameBytes = 1 + messageLength;
      this.pendingBytes = HEADER_BYTES;
      used = headerMissing;
      if (this.frameBytes === HEADER_BYTES) {
        // An empty payload: whole with its header.
        this.pendingBytes = 0;
        this.frameBytes = -1;
        onFrame(type, this.header, HEADER_BYTES, HEADER_BYTES);
        return used;
      }
    }
    const missing = this.frameBytes - this.pendingBytes;
    if (chunk.length - used < missing) {
      this.keep(chunk, used, chunk.length);
      return -1;
    }
    this.keep(chunk, used, used + missing);
    const frame = this.partial as Buffer;
    const type = this.frameType;
    const frameBytes = this.frameBytes;
    this.frameBytes = -1;
    try {
      onFrame(type, frame, HEADER_BYTES, frameBytes);
    } finally {
      this.discard();
    }
    return used + missing;
  }

  // Everything a header alone can prove wrong is refused before a single payload byte is kept.
  private checkHeader(type: number, messageLength: number): void {
    const name = frameTypeName(type);
    this.checkOrder(type);
    if (messageLength < MIN_LENGTH) {
      throw new ProtocolError(
        'LOGFEBE_BAD_LENGTH',
        `${name} message length ${messageLength} is below ${MIN_LENGTH} (the length counts its own 4 bytes)`,
      );
    }
    if (messageLength > this.maxMessageBytes) {
      throw new ProtocolError(
        'LOGFEBE_TOO_LARGE',
        `${name} message of ${messageLength} bytes exceeds the ${this.maxMessageBytes}-byte cap`,
      );
    }
  }
}
