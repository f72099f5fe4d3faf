// A record's frames written straight from the bytes it arrived in (a WireRecord) into the
// caller's buffer: its fields are copied, never made into strings. The string path
// (recordFrames.ts) made a string of every field, a rope of the whole record, and wrote it back
// into bytes; the garbage collector then spent a quarter of the daemon's CPU on those strings.
//
// Only for what the byte path can do exactly: a record whose text is valid UTF-8 (the string path
// would write U+FFFD for what is not), with an ASCII LogTime (its positions are characters), an
// ASCII header, tag and template; then counting is byte arithmetic and cuts back off over
// continuation bytes onto a character, as the string path's exact pass does. Anything else, and
// a record whose tag leaves too little room to make progress (FORMAT_HEADER_TOO_LONG), goes to
// the string path (write() returns null), which remains the reference: the layout here is
// recordFrames.ts' decision for decision (lines.ts says what they are), and
// spec/format/wireFrames.spec.ts compares the two byte for byte over random records.
//
// The bytes go where they belong as they are laid out; one that would pass `end` is counted and
// not written, so a record that does not fit costs one pass and says how much it needs.
import { isUtf8 } from 'node:buffer';
import { copyBytes, digitsOf, isPlainCount, numberText, writeDigits, ByteScratch } from './bytes';
import { logTimeUtc, formatUtcMicros } from './timestamp';
import { cutMarker, MIN_ROOM_BYTES, MISSING_MESSAGE } from './lines';
import { MAX_FRAME_BYTES } from './options';
import type { WirePrefixRenderer } from './wirePrefix';
import {
  ERR_CONTEXT, ERR_DETAIL, ERR_HINT, ERR_MESSAGE, FILE_ERR_POS, INTERNAL_QUERY, LOG_TIME, USER_QUERY, type WireRecord,
} from '../protocol/wireRecord';

const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;

const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');
const NOTHING: Buffer = Buffer.alloc(0);
const MISSING = ascii(MISSING_MESSAGE);
const LABEL_END = ascii(':  ');
const PART_LABELS: readonly (readonly [number, Buffer])[] = [
  [ERR_DETAIL, ascii('DETAIL')],
  [ERR_HINT, ascii('HINT')],
  [INTERNAL_QUERY, ascii('QUERY')],
  [ERR_CONTEXT, ascii('CONTEXT')],
  [FILE_ERR_POS, ascii('LOCATION')],
  [USER_QUERY, ascii('STATEMENT')],
];
const TIME_TAIL = ascii('000+00:00'); // after the milliseconds: microseconds and the zone
const TIMESTAMP_BYTES = 32; // `2026-11-25T01:43:51.596000+00:00`
// LogTime `YYYY-MM-DD HH:MM:SS.mmm ZONE`: where the milliseconds lie (timestamp.ts reads the same).
const MILLIS_START = 20;
const MILLIS_END = 23;

const isDigit = (byte: number | undefined): boolean => byte !== undefined && byte >= 0x30 && byte <= 0x39;

export class WireFrameWriter {
  readonly #prefix: WirePrefixRenderer;
  readonly #maxMessageBytes: number;
  readonly #maxFrames: number;
  readonly #marker: Buffer; // the cut marker's text
  readonly #labels = new Map<string, Buffer>(); // severity label → its bytes
  // `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID - - [NAME] [SEQ-`: what every frame of a record
  // starts with (after its length), copied in one go.
  readonly #lead = new ByteScratch(256);
  readonly #head = new ByteScratch(256); // the rendered prefix, then the part's `LABEL:  `

  // The timestamp of the last LogTime seen, kept for the next records of the same second.
  readonly #lastLogTime = new ByteScratch(64); // its bytes (the milliseconds are not compared)
  #lastSeconds: Buffer | null = null; // `YYYY-MM-DDTHH:MM:SS` in UTC, or null when its zone is ambiguous
  #lastReceivedAt = Number.NaN;
  #receivedAtText = NOTHING; // the fallback timestamp of #lastReceivedAt

  // The record being written (the writer is synchronous: one record at a time).
  #target: Buffer = NOTHING;
  #end = 0;
  #pos = 0; // where the next byte goes, counted on past #end when it does not fit
  #src: Buffer = NOTHING; // the record's bytes
  #headerBytes = 0; // of #lead, up to the tag
  #tagBytes = 0; // of #lead, after the header: `[NAME] [SEQ-`
  #budget = 0;
  #n = 1; // the N of the next frame
  #frames = 0;
  #cut = false; // past maxFrames: the marker is written, the rest skipped
  #heldAt = -1; // where frame number maxFrames starts: the marker replaces it if another follows
  #leadAt = -1; // where the record's first frame has its lead in the target, once written there
  #bail = false; // the string path must do this record

  constructor(prefix: WirePrefixRenderer, maxMessageBytes: number, maxRecordFrames: number) {
    this.#prefix = prefix;
    this.#maxMessageBytes = maxMessageBytes;
    this.#maxFrames = maxRecordFrames;
    this.#marker = ascii(cutMarker(maxRecordFrames));
  }

  /** Frames of the record last written or measured. */
  get frames(): number {
    return this.#frames;
  }

  /**
   * Writes the frames of `record` (its header `pri` `<PRI>1 `, the timestamp, and `tail`,
   * ` HOSTNAME APP-NAME PROCID - - `; its tag from `tagStart`, `[NAME] [`) into `target` from `at`, never past `end`: the bytes written, minus the bytes
   * needed when they do not fit (nothing committed, [at, end) maybe scribbled on), or null when
   * the string path must write it. Every other argument must be ASCII.
   */
  write(pri: Buffer, tail: Buffer, tagStart: Buffer, record: WireRecord, label: string, receivedAt: number, target: Buffer, at: number, end: number): number | null {
    const wide = record.nonAscii;
    if (wide !== 0 && !validUtf8(record, wide)) return null;
    const lead = this.#lead;
    lead.length = 0;
    lead.putAll(pri);
    this.#timestamp(record, receivedAt, lead);
    lead.putAll(tail);
    const headerBytes = lead.length;
    lead.putAll(tagStart);
    lead.putNumber(record.SeqNum);
    lead.putByte(0x2d); // -
    const head = this.#head;
    head.length = 0;
    this.#prefix(record, head);
    const prefixBytes = head.length;

    this.#target = target;
    this.#end = end;
    this.#pos = at;
    this.#src = record.buf;
    this.#headerBytes = headerBytes;
    this.#tagBytes = lead.length - headerBytes;
    // An ASCII header is as many bytes as characters: messageBudget in formatRecord.ts.
    this.#budget = Math.min(this.#maxMessageBytes, MAX_FRAME_BYTES - headerBytes);
    this.#n = 1;
    this.#frames = 0;
    this.#cut = false;
    this.#heldAt = -1;
    this.#leadAt = -1;
    this.#bail = false;
    try {
      const message = record.start(ERR_MESSAGE);
      if (message < 0) {
        this.#labelHead(prefixBytes, this.#label(label));
        this.#src = MISSING;
        this.#part(0, MISSING.length, false);
        this.#src = record.buf;
      } else {
        this.#labelHead(prefixBytes, this.#label(label));
        this.#part(message, record.end(ERR_MESSAGE), (record.newlines & (1 << ERR_MESSAGE)) !== 0);
      }
      for (const [field, name] of PART_LABELS) {
        const start = record.start(field);
        if (start < 0) continue;
        const stop = record.end(field);
        if (field === FILE_ERR_POS && stop === start) continue; // PostgreSQL prints no empty LOCATION
        this.#labelHead(prefixBytes, name);
        this.#part(start, stop, (record.newlines & (1 << field)) !== 0);
      }
    } finally {
      this.#target = NOTHING; // neither the body nor the read is kept past the call
      this.#src = NOTHING;
    }
    if (this.#bail) return null;
    const total = this.#pos - at;
    return this.#pos <= end ? total : -total;
  }

  #label(label: string): Buffer {
    let bytes = this.#labels.get(label);
    if (bytes === undefined) {
      bytes = ascii(label);
      this.#labels.set(label, bytes);
    }
    return bytes;
  }

  /** The head of a part's first line: the prefix (already in #head) and `LABEL:  `. */
  #labelHead(prefixBytes: number, name: Buffer): void {
    const head = this.#head;
    head.length = prefixBytes;
    head.putAll(name);
    head.putAll(LABEL_END);
  }

  /**
   * `LogTime` in UTC when its zone names one instant, else receivedAt (timestamp.ts decides; its
   * answer for a second is kept here, as bytes, for the records that share that second and zone).
   */
  #timestamp(record: WireRecord, receivedAt: number, out: ByteScratch): void {
    const buf = record.buf;
    const start = record.start(LOG_TIME);
    const end = record.end(LOG_TIME);
    const length = end - start;
    // The checks logTimeUtc makes before it looks at the second and zone.
    if (
      length > MILLIS_END + 1 &&
      buf[start + MILLIS_START - 1] === 0x2e && // .
      buf[start + MILLIS_END] === SPACE &&
      isDigit(buf[start + MILLIS_START]) &&
      isDigit(buf[start + MILLIS_START + 1]) &&
      isDigit(buf[start + MILLIS_START + 2])
    ) {
      if (!this.#sameSecond(buf, start, end)) {
        const utc = logTimeUtc(buf.toString('latin1', start, end));
        this.#lastSeconds = utc === undefined ? null : ascii(utc.slice(0, MILLIS_START - 1));
        const last = this.#lastLogTime;
        last.length = 0;
        last.put(buf, start, end);
      }
      const seconds = this.#lastSeconds;
      if (seconds !== null) {
        out.ensure(TIMESTAMP_BYTES);
        out.putAll(seconds);
        out.put(buf, start + MILLIS_START - 1, start + MILLIS_END); // `.mmm`
        out.putAll(TIME_TAIL);
        return;
      }
    }
    if (receivedAt !== this.#lastReceivedAt) {
      this.#receivedAtText = ascii(formatUtcMicros(receivedAt));
      this.#lastReceivedAt = receivedAt;
    }
    out.putAll(this.#receivedAtText);
  }

  /** LogTime `buf[start, end)` is the last one's but for the milliseconds. */
  #sameSecond(buf: Buffer, start: number, end: number): boolean {
    const last = this.#lastLogTime;
    if (last.length !== end - start) return false;
    const lastBuf = last.buf;
    for (let i = last.length - 1; i >= MILLIS_END; i--) if (lastBuf[i] !== buf[start + i]) return false;
    for (let i = 0; i < MILLIS_START; i++) if (lastBuf[i] !== buf[start + i]) return false;
    return true;
  }

  // ── the layout (recordFrames.ts, on bytes) ───────────────────────────────────────────────

  /** A part: text `#src[start, end)`, its first line after #head, continuation lines bare. */
  #part(start: number, end: number, newlines: boolean): void {
    if (this.#cut || this.#bail) return;
    const headBytes = this.#head.length;
    if (!newlines) {
      this.#line(headBytes, start, end);
      return;
    }
    const src = this.#src;
    const kept = keptEnd(src, start, end);
    for (let from = start, first = true; !this.#cut && !this.#bail; first = false) {
      let stop = from;
      while (stop < kept && src[stop] !== LF) stop++;
      const lineEnd = stop > from && src[stop - 1] === CR ? stop - 1 : stop;
      this.#line(first ? headBytes : 0, from, lineEnd);
      if (stop >= kept) return;
      from = stop + 1;
    }
  }

  /** One line, #head[0, headBytes) + #src[start, end), in as many frames as the budget wants. */
  #line(headBytes: number, start: number, end: number): void {
    if (this.#cut) return;
    const tagBytes = this.#tagBytes + digitsOf(this.#n) + 2;
    const textBytes = end - start;
    if (tagBytes + headBytes + textBytes <= this.#budget) {
      this.#frame(0, headBytes, start, end);
      return;
    }
    // Over the cap: the line (head and text as one run) is cut where the room ends, backed off
    // over continuation bytes (10xxxxxx) onto the first byte of a character (cutAt in lines.ts).
    const whole = headBytes + textBytes;
    const head = this.#head.buf;
    const src = this.#src;
    for (let from = 0; from < whole && !this.#cut; ) {
      const room = this.#budget - (this.#tagBytes + digitsOf(this.#n) + 2);
      if (room < MIN_ROOM_BYTES) {
        this.#bail = true; // the string path throws FORMAT_HEADER_TOO_LONG, with its words
        return;
      }
      let to = from + room;
      if (to >= whole) to = whole;
      else while (to > from && (((to < headBytes ? head[to] : src[start + to - headBytes]) as number) & 0xc0) === 0x80) to--;
      this.#frame(Math.min(from, headBytes), Math.min(to, headBytes), start + Math.max(0, from - headBytes), start + Math.max(0, to - headBytes));
      from = to;
    }
  }

  /** One frame `<len> <header>[NAME] [SEQ-N] <head[hs, he)><src[ts, te)>`. */
  #frame(hs: number, he: number, ts: number, te: number): void {
    const n = this.#n;
    if (n > this.#maxFrames) {
      this.#cutRecord();
      return;
    }
    if (n === this.#maxFrames) this.#heldAt = this.#pos; // the record's last, or the marker's place
    const msgBytes = this.#tagBytes + digitsOf(n) + 2 + (he - hs) + (te - ts);
    this.#frameHead(this.#headerBytes + msgBytes, n);
    this.#put(this.#head.buf, hs, he);
    this.#put(this.#src, ts, te);
    this.#n = n + 1;
    this.#frames++;
  }

  /** `<len> <header>[NAME] [SEQ-N] `. */
  #frameHead(length: number, n: number): void {
    this.#count(length);
    this.#byte(SPACE);
    this.#putLead();
    this.#count(n);
    this.#byte(0x5d); // ]
    this.#byte(SPACE);
  }

  /** A frame past maxFrames: the held frame gives way to the marker, and the rest is skipped. */
  #cutRecord(): void {
    this.#cut = true;
    this.#pos = this.#heldAt;
    const maxFrames = this.#maxFrames;
    const marker = this.#marker;
    this.#frameHead(this.#headerBytes + this.#tagBytes + digitsOf(maxFrames) + 2 + marker.length, maxFrames);
    this.#put(marker, 0, marker.length);
  }

  /**
   * The lead, copied from the record's first frame once that is in the target: copyWithin is a
   * memmove, where Buffer#copy from another buffer makes a view object for every frame.
   */
  #putLead(): void {
    const pos = this.#pos;
    const bytes = this.#headerBytes + this.#tagBytes;
    const next = pos + bytes;
    if (next <= this.#end) {
      const leadAt = this.#leadAt;
      if (leadAt >= 0) this.#target.copyWithin(pos, leadAt, leadAt + bytes);
      else {
        copyBytes(this.#lead.buf, 0, bytes, this.#target, pos);
        this.#leadAt = pos;
      }
    }
    this.#pos = next;
  }

  #put(src: Buffer, start: number, end: number): void {
    const pos = this.#pos;
    const next = pos + end - start;
    if (next <= this.#end) copyBytes(src, start, end, this.#target, pos);
    this.#pos = next;
  }

  #byte(byte: number): void {
    const pos = this.#pos;
    if (pos < this.#end) this.#target[pos] = byte;
    this.#pos = pos + 1;
  }

  /** A frame length or N (plain counts), in digits. */
  #count(v: number): void {
    if (!isPlainCount(v)) {
      const text = numberText(v);
      this.#put(text, 0, text.length);
      return;
    }
    const digits = digitsOf(v);
    const pos = this.#pos;
    if (pos + digits <= this.#end) writeDigits(this.#target, pos, v, digits);
    this.#pos = pos + digits;
  }
}

/** Every text field that is not ASCII (bits of `wide`) is valid UTF-8, and LogTime is ASCII. */
function validUtf8(record: WireRecord, wide: number): boolean {
  if ((wide & (1 << LOG_TIME)) !== 0) return false;
  for (let field = 0; wide !== 0; field++, wide >>>= 1) {
    if ((wide & 1) !== 0 && !isUtf8(record.buf.subarray(record.start(field), record.end(field)))) return false;
  }
  return true;
}

/**
 * Where the last line of `src[start, end)` that is kept ends: trailing lines that are empty, or
 * only a `\r`, are dropped (lines.ts), the first line never. Looks at the trailing lines only.
 */
function keptEnd(src: Buffer, start: number, end: number): number {
  while (end > start) {
    let nl = end - 1;
    while (nl >= start && src[nl] !== LF) nl--;
    if (nl < start) return end;
    const length = end - nl - 1;
    if (length !== 0 && !(length === 1 && src[end - 1] === CR)) return end;
    end = nl;
  }
  return start;
}
