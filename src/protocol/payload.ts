// Reads the typed fields of one payload in place: strings are decoded straight from the frame's
// buffer and integers read where they lie, so a record costs its strings and one object.
// Every read is bounds-checked against the end of the message, not of the buffer, because a
// frame is often a window on a larger chunk.
import { ProtocolError, hexByte } from './errors';
import type { FrameType } from './deframe';

const NUL = 0x00;
const PRESENT = 0x50; // 'P'
const ABSENT = 0x4e; // 'N'
const TWO_TO_32 = 0x1_0000_0000;
const NOTHING = Buffer.alloc(0);

export class PayloadCursor {
  private buf: Buffer = NOTHING;
  private pos = 0;
  private end = 0;
  private message: FrameType = 'L';

  /** Point at `buf[start, end)`, the payload of a `message` frame. */
  reset(buf: Buffer, start: number, end: number, message: FrameType): void {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.message = message;
  }

  /** Drop the buffer, so a consumed chunk is not kept alive by the cursor. */
  release(): void {
    this.buf = NOTHING;
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  cstring(field: string): string {
    const { buf, pos, end } = this;
    // A short scan in JS beats a native indexOf call for the typical 5-40 byte field; the bound is
    // the message end, never the buffer end.
    let nul = pos;
    while (nul < end && buf[nul] !== NUL) nul++;
    if (nul === end) throw this.pastTheEnd(field);
    this.pos = nul + 1;
    // Invalid UTF-8 becomes U+FFFD rather than an error: a mangled byte must not cost the record.
    return nul === pos ? '' : buf.toString('utf8', pos, nul);
  }

  /** `*CString`: `P` and a CString, or `N` and an empty CString. */
  nullableCString(field: string): string | null {
    const { buf, pos, end } = this;
    if (pos >= end) throw this.pastTheEnd(field);
    const flag = buf[pos];
    if (flag === PRESENT) {
      this.pos = pos + 1;
      return this.cstring(field);
    }
    if (flag === ABSENT) {
      if (pos + 1 >= end) throw this.pastTheEnd(field);
      // pg_logfebe always writes `N\0`; text after an N would be silently lost, so refuse it.
      if (buf[pos + 1] !== NUL) {
        throw new ProtocolError(
          'LOGFEBE_BAD_NULL_FLAG',
          `${this.message} field ${field}: null flag 'N' is followed by text, not an empty string`,
        );
      }
      this.pos = pos + 2;
      return null;
    }
    throw new ProtocolError(
      'LOGFEBE_BAD_NULL_FLAG',
      `${this.message} field ${field}: null flag ${hexByte(flag)} is neither 'P' nor 'N'`,
    );
  }

  int32(field: string): number {
    const pos = this.pos;
    if (pos + 4 > this.end) throw this.pastTheEnd(field);
    this.pos = pos + 4;
    return this.buf.readInt32BE(pos);
  }

  /**
   * int64 as a number, read as two 32-bit halves to avoid a BigInt per record. Exact for
   * |n| <= 2^53 (SeqNum counts lines of one process); beyond that it rounds to the nearest double.
   */
  int64(field: string): number {
    const pos = this.pos;
    if (pos + 8 > this.end) throw this.pastTheEnd(field);
    this.pos = pos + 8;
    return this.buf.readInt32BE(pos) * TWO_TO_32 + this.buf.readUInt32BE(pos + 4);
  }

  /** uint64 as a number: exact up to 2^53 (64-bit xids with epoch stay far below), rounded above. */
  uint64(field: string): number {
    const pos = this.pos;
    if (pos + 8 > this.end) throw this.pastTheEnd(field);
    this.pos = pos + 8;
    return this.buf.readUInt32BE(pos) * TWO_TO_32 + this.buf.readUInt32BE(pos + 4);
  }

  private pastTheEnd(field: string): ProtocolError {
    return new ProtocolError('LOGFEBE_TRUNCATED_FIELD', `${this.message} field ${field} runs past the end of the message`);
  }
}
