// Reads the typed fields of one payload in place: integers where they lie, and text fields as
// where they lie (a record's, into the spans of a WireRecord, so no string is made; the V and I
// messages' as strings, once per connection). The byte scan that finds a field's NUL also notes
// whether the field is ASCII and whether it holds a newline, which the formatter needs to know.
// Every read is bounds-checked against the end of the message, not of the buffer, because a
// frame is often a window on a larger chunk.
import { ProtocolError, hexByte } from './errors';
import type { FrameType } from './deframe';

const NUL = 0x00;
const LF = 0x0a;
const PRESENT = 0x50; // 'P'
const ABSENT = 0x4e; // 'N'
const TWO_TO_32 = 0x1_0000_0000;
const NOTHING = Buffer.alloc(0);

export class PayloadCursor {
  private buf: Buffer = NOTHING;
  private pos = 0;
  private end = 0;
  private message: FrameType = 'L';
  private high = 0; // OR of every CString byte read since reset: below 0x80 means all were ASCII
  private lines = 0; // bit i set when text field i (span's `index`) held a newline, since reset
  private wide = 0; // bit i set when text field i held a byte from 0x80 on, since reset

  /** Point at `buf[start, end)`, the payload of a `message` frame. */
  reset(buf: Buffer, start: number, end: number, message: FrameType): void {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.message = message;
    this.high = 0;
    this.lines = 0;
    this.wide = 0;
  }

  /** Every CString read since reset was ASCII (so each of its characters is one UTF-8 byte). */
  get allAscii(): boolean {
    return this.high < 0x80;
  }

  /** Text fields read by span() since reset that hold a newline, one bit per field index. */
  get newlines(): number {
    return this.lines;
  }

  /** Text fields read by span() since reset that are not ASCII, one bit per field index. */
  get nonAscii(): number {
    return this.wide;
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

  /** A CString as a string (V and I): invalid UTF-8 becomes U+FFFD rather than an error. */
  cstring(field: string): string {
    const start = this.pos;
    return this.buf.toString('utf8', start, this.nulAt(field, 0) - 1);
  }

  /**
   * Text field `index` of a record (a CString, or a `*CString` when `nullable`): its [start, end)
   * in the buffer go to the record's spans from `base`, at 2 × index, start -1 when it is null.
   */
  span(field: string, index: number, nullable: boolean, spans: Int32Array, base: number): void {
    const slot = base + 2 * index;
    if (nullable && !this.present(field)) {
      spans[slot] = -1;
      spans[slot + 1] = -1;
      return;
    }
    const start = this.pos;
    spans[slot] = start;
    spans[slot + 1] = this.nulAt(field, index) - 1;
  }

  /** Finds the NUL ending the CString at pos, moves past it, returns where it moved to. */
  private nulAt(field: string, index: number): number {
    const { buf, pos, end } = this;
    let nul = pos;
    let high = 0; // OR of the field's bytes: below 0x80 means ASCII, where latin1 and UTF-8 agree
    let newline = false;
    while (nul < end) {
      const byte = buf[nul] as number;
      if (byte === NUL) break;
      high |= byte;
      if (byte === LF) newline = true;
      nul++;
    }
    if (nul === end) throw this.pastTheEnd(field);
    this.pos = nul + 1;
    this.high |= high;
    if (newline) this.lines |= 1 << index;
    if (high >= 0x80) this.wide |= 1 << index;
    return nul + 1;
  }

  /** Reads a `*CString`'s flag: true when a CString follows, false for `N` (and its empty CString). */
  private present(field: string): boolean {
    const { buf, pos, end } = this;
    if (pos >= end) throw this.pastTheEnd(field);
    const flag = buf[pos];
    if (flag === PRESENT) {
      this.pos = pos + 1;
      return true;
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
      return false;
    }
    throw new ProtocolError(
      'LOGFEBE_BAD_NULL_FLAG',
      `${this.message} field ${field}: null flag ${hexByte(flag as number)} is neither 'P' nor 'N'`,
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
