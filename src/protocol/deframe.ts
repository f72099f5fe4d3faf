// FEBE framing (type byte, int32 length counting itself, payload), incremental over socket
// chunks cut anywhere. A frame that sits inside one chunk is handed out in place, without a copy.
// A frame spread over several chunks is held as pieces until its last byte: a large read is kept
// as it is (no copy, and nothing for the garbage collector to find until the frame completes),
// small reads are copied into blocks of the reader's own, and the pieces are joined once at the
// end. So framing stays linear however the stream is cut (one byte per chunk included), what a
// partial frame costs in memory is what the Budget all readers share counts, and the Budget
// bounds it.
import { ProtocolError, describeByte } from './errors';
import { Budget } from '../budget';

export const TYPE_V = 0x56;
export const TYPE_I = 0x49;
export const TYPE_L = 0x4c;

export type FrameType = 'V' | 'I' | 'L';

const HEADER_BYTES = 5; // type byte + int32 length
const MIN_LENGTH = 4; // the length field counts itself
// Small reads are copied into blocks of this size, or of what the frame still misses when that is
// less: a frame up to this size (real records are 150-600 bytes) gets one block, its own size, and
// is handed out from it without a join. A header announcing a megabyte reserves a block, not a
// megabyte. 64 KiB is one socket read.
const BLOCK_BYTES = 64 * 1024;
// A read of at least this much is kept rather than copied, when it is at least half of the memory
// it holds on to (a chunk holding the end of one frame and a few bytes of the next is copied).
const KEEP_MIN_BYTES = 16 * 1024;

/** One whole message. `payload` may share memory with the chunk it came in. */
export interface Frame {
  readonly type: FrameType;
  readonly payload: Buffer;
}

/** A complete frame: its payload is `buf[start, end)`, valid only during the call. */
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
  // The frame not yet whole, header included, in order: views of chunks kept as they came and of
  // blocks small reads were copied into. Never holds a consumed byte.
  private pieces: Buffer[] = [];
  private block: Buffer | undefined; // the block small reads go to, while it has room
  private blockUsed = 0;
  private held = 0; // taken from the budget for the pieces: each kept chunk's whole memory, each block
  private pendingBytes = 0; // bytes of the unfinished frame received (in `pieces`, or in `header`)
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

  /** Memory this reader holds for its unfinished frame, as taken from the budget. */
  get heldBytes(): number {
    return this.held;
  }

  /**
   * Frames in `chunk`, each handed to `onFrame` (valid only during that call). The reader may keep
   * `chunk` itself until its frame completes: a caller must not write into a chunk once pushed.
   */
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
    this.pieces = [];
    this.block = undefined;
    this.pendingBytes = 0;
  }

  /** Appends chunk[start, end) to the pending frame: kept as it is when large, else copied. */
  private keep(chunk: Buffer, start: number, end: number): void {
    const length = end - start;
    if (length >= KEEP_MIN_BYTES && 2 * length >= chunk.buffer.byteLength) {
      this.take(chunk.buffer.byteLength);
      this.pieces.push(chunk.subarray(start, end));
      this.block = undefined; // later small reads go after this piece
    } else {
      for (let at = start; at < end; ) {
        let block = this.block;
        if (block === undefined || this.blockUsed === block.length) {
          const missing = this.frameBytes - this.pendingBytes - (at - start);
          this.take(Math.min(BLOCK_BYTES, missing));
          // Its own memory, not a slice of Node's shared pool: a pooled slice would keep 8 KiB alive.
          block = Buffer.allocUnsafeSlow(Math.min(BLOCK_BYTES, missing));
          this.block = block;
          this.blockUsed = 0;
          this.pieces.push(block.subarray(0, 0));
        }
        const copied = Math.min(end - at, block.length - this.blockUsed);
        chunk.copy(block, this.blockUsed, at, at + copied);
        this.blockUsed += copied;
        at += copied;
        this.pieces[this.pieces.length - 1] = block.subarray(0, this.blockUsed);
      }
    }
    this.pendingBytes += length;
  }

  private take(bytes: number): void {
    if (!this.budget.take(bytes)) {
      throw new ProtocolError(
        'LOGFEBE_PARTIAL_LIMIT',
        `an unfinished ${frameTypeName(this.frameType)} message of ${this.frameBytes} bytes would take unfinished messages ` +
          `over the ${this.budget.limit} bytes all connections may hold together (${this.budget.held} held)`,
      );
    }
    this.held += bytes;
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
      this.pendingBytes = 0;
      used = headerMissing;
      if (this.frameBytes === HEADER_BYTES) {
        // An empty payload: whole with its header.
        this.frameBytes = -1;
        onFrame(type, this.header, HEADER_BYTES, HEADER_BYTES);
        return used;
      }
      this.keep(this.header, 0, HEADER_BYTES); // the frame's first bytes (copied: the header is reused)
    }
    const missing = this.frameBytes - this.pendingBytes;
    if (chunk.length - used < missing) {
      this.keep(chunk, used, chunk.length);
      return -1;
    }
    this.keep(chunk, used, used + missing);
    // One piece (a small frame's block) is the frame as it is; several are joined once.
    const frame = this.pieces.length === 1 ? (this.pieces[0] as Buffer) : Buffer.concat(this.pieces, this.frameBytes);
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
