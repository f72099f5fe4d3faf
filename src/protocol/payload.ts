// Reads the typed fields of one payload in place, integers where they lie and strings with as few
// native calls as possible: the payload is decoded once as latin1 (one byte, one char, so byte
// offsets are string offsets) and an all-ASCII field, the common case, is a substring of that;
// only a field with a byte >= 0x80 is decoded again, as UTF-8. Per-field toString() calls were
// the largest cost of a record. (V8 may keep a long substring as a view on that text, so a record
// can keep its own payload's text alive; never the chunk, nor other records.)
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
  private text = ''; // the payload as latin1
  private textStart = 0; // buffer offset of text[0]
  private high = 0; // OR of every CString byte read since reset: below 0x80 means all were ASCII

  /** Point at `buf[start, end)`, the payload of a `message` frame. */
  reset(buf: Buffer, start: number, end: number, message: FrameType): void {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.message = message;
    this.text = buf.toString('latin1', start, end);
    this.textStart = start;
    this.high = 0;
  }

  /** Every CString read since reset was ASCII (so each of its characters is one UTF-8 byte). */
  get allAscii(): boolean {
    return this.high < 0x80;
  }

  /** Drop the buffer and text, so a consumed chunk is not kept alive by the cursor. */
  release(): void {
    this.buf = NOTHING;
    this.text = '';
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  cstring(field: string): string {
    const { buf, pos, end } = this;
    let nul = pos;
    let high = 0; // OR of the field's bytes: below 0x80 means ASCII, where latin1 and UTF-8 agree
    while (nul < end) {
      const byte = buf[nul];
      if (byte === NUL) break;
      high |= byte;
      nul++;
    }
    if (nul === end) throw this.pastTheEnd(field);
    this.pos = nul + 1;
    this.high |= high;
    if (high < 0x80) return this.text.slice(pos - this.textStart, nul - this.textStart);
    // Invalid UTF-8 becomes U+FFFD rather than an error: a mangled byte must not cost the record.
    return buf.toString('utf8', pos, nul);
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
