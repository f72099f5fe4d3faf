// FEBE framing (type byte, int32 length counting itself, payload), incremental over socket
// chunks cut anywhere. A frame that sits inside one chunk is handed out in place, without a copy;
// only a frame spread over several chunks is joined, once, when its last byte has arrived, so
// framing stays linear however the stream is cut (one byte per chunk included).
import { concat, concatMap, concatWith, defer, EMPTY, throwError, type OperatorFunction } from 'rxjs';
import { ProtocolError, describeByte } from './errors';
import { resolveProtocolOptions, type ProtocolOptions } from './options';

export const TYPE_V = 0x56;
export const TYPE_I = 0x49;
export const TYPE_L = 0x4c;

export type FrameType = 'V' | 'I' | 'L';

const HEADER_BYTES = 5; // type byte + int32 length
const MIN_LENGTH = 4; // the length field counts itself

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
  // Bytes of the frame not yet whole, in arrival order. Never holds a consumed byte: a chunk's
  // tail is copied out when the chunk's earlier frames were handed out, so the chunk can be freed.
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private frameBytes = -1; // whole size (header included) of the pending frame; -1 until its header is in
  private frameType = 0;
  private readonly header = Buffer.alloc(HEADER_BYTES); // a header cut across chunks is assembled here

  constructor(
    private readonly maxMessageBytes: number,
    private readonly checkOrder: HeaderCheck = acceptAnyOrder,
  ) {}

  /** Bytes received that do not yet make a whole frame. */
  get bufferedBytes(): number {
    return this.pendingBytes;
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
        break;
      }
      onFrame(type, chunk, pos + HEADER_BYTES, frameEnd);
      pos = frameEnd;
    }
    if (pos < length) {
      // Copy only when part of the chunk was consumed: that copy is at most one frame's start, and
      // it lets the consumed part go. An untouched chunk is kept as it is.
      const tail = pos === 0 ? chunk : Buffer.from(chunk.subarray(pos));
      this.pending.push(tail);
      this.pendingBytes += tail.length;
    }
  }

  /** Call when the stream ends: a frame cut short is a violation worth a log line. */
  end(): void {
    if (this.pendingBytes === 0) return;
    if (this.frameBytes < 0) {
      throw new ProtocolError(
        'LOGFEBE_TRUNCATED_MESSAGE',
        `stream ended inside a message header (${this.pendingBytes} of its ${HEADER_BYTES} bytes received)`,
      );
    }
    throw new ProtocolError(
      'LOGFEBE_TRUNCATED_MESSAGE',
      `stream ended inside ${withArticle(frameTypeName(this.frameType))} message (${this.pendingBytes} of its ${this.frameBytes} bytes received)`,
    );
  }

  // Returns how much of `chunk` finished the pending frame, or -1 when all of it went to pending.
  private completePending(chunk: Buffer, onFrame: FrameHandler): number {
    if (this.frameBytes < 0) {
      const headerMissing = HEADER_BYTES - this.pendingBytes;
      if (chunk.length < headerMissing) {
        this.pending.push(chunk);
        this.pendingBytes += chunk.length;
        return -1;
      }
      let at = 0;
      for (const piece of this.pending) at += piece.copy(this.header, at);
      chunk.copy(this.header, at, 0, headerMissing);
      const type = this.header[0];
      const messageLength = this.header.readInt32BE(1);
      this.checkHeader(type, messageLength);
      this.frameType = type;
      this.frameBytes = 1 + messageLength;
    }
    const missing = this.frameBytes - this.pendingBytes;
    if (chunk.length < missing) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      return -1;
    }
    this.pending.push(missing === chunk.length ? chunk : chunk.subarray(0, missing));
    const frame = Buffer.concat(this.pending, this.frameBytes);
    const type = this.frameType;
    this.pending = [];
    this.pendingBytes = 0;
    this.frameBytes = -1;
    onFrame(type, frame, HEADER_BYTES, frame.length);
    return missing;
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

/**
 * Socket chunks to whole frames, checking type bytes, lengths and the size cap but not message
 * order (decodeLogfebe does). Each subscription frames its own stream. A violation errors after
 * the frames its chunk completed before it; a stream that ends inside a frame errors with
 * LOGFEBE_TRUNCATED_MESSAGE.
 */
export function deframe(options?: Partial<ProtocolOptions>): OperatorFunction<Buffer, Frame> {
  const { maxMessageBytes } = resolveProtocolOptions(options);
  return (chunk$) =>
    defer(() => {
      const reader = new FrameReader(maxMessageBytes);
      return chunk$.pipe(
        concatMap((chunk) => {
          const frames: Frame[] = [];
          try {
            reader.push(chunk, (type, buf, start, end) => {
              frames.push({ type: frameTypeName(type), payload: buf.subarray(start, end) });
            });
          } catch (error) {
            // Frames before the violation in the same chunk still go out, then the error.
            return concat(frames, throwError(() => error));
          }
          return frames;
        }),
        concatWith(
          defer(() => {
            reader.end();
            return EMPTY;
          }),
        ),
      );
    });
}
