// How createFormatter lays out a record's frames: one string for the whole record (length
// prefixes, headers, tags, lines), then one write into the caller's buffer. It produces exactly what
// octetFrames(header, taggedMessages(recordLines(...), ..., maxRecordFrames)) produces (same parts,
// same line splitting, same cuts, same N, same marker past maxRecordFrames;
// spec/format/recordFrames.spec.ts checks it), without their intermediate arrays and strings.
// Its work is bounded by the frames it writes, not by the record: past maxRecordFrames it stops,
// without looking at the rest (a 1 MiB record of 524,288 lines took 1.1-1.8 s when every line was
// a frame).
//
// Why one string: a Buffer.write or byteLength per piece crosses into C++ each time, and a record
// has many small pieces (length, header, tag, prefix, label, text per frame). Concatenation is
// cheap in V8 (ropes), and the single write flattens the rope once.
//
// Two passes at most. Nearly every record is ASCII, where a character is a byte: the first pass
// counts characters and never calls byteLength per piece; the UTF-8 write of the result then
// proves the assumption (every character is at least one UTF-8 byte, exactly one only when ASCII;
// see writeRecordFrames). A multi-line field is checked up front instead, so that a long non-ASCII
// statement is not laid out twice. When the assumption fails, the exact pass
// counts bytes (byteLength per part head and per line of non-ASCII fields) and cuts on UTF-8
// boundaries. When the caller already knows everything is ASCII (the decoder saw every byte of
// the record; formatRecord.ts checks the cached header pieces once), there is nothing to prove:
// no byteLength at all, and a latin1 write, which is a plain copy.
import type { LogRecord } from '../protocol/messages';
import { FormatError } from './errors';
import { cutAt, cutMarker, MIN_ROOM_BYTES, MISSING_MESSAGE } from './lines';

// The record being laid out. Formatting is synchronous, so module state serves every call and a
// record allocates nothing but its strings.
let exact = false; // count bytes (second pass) rather than characters (first pass)
let knownAscii = false; // the caller vouches that every piece is ASCII: no checking at all
let out = '';
let total = 0; // bytes of `out` (in the first pass: characters, assumed bytes)
let frames = 0;
let n = 1; // the N of the next frame
let giveUp = false; // first pass only: something is not ASCII, go exact
let header = '';
let headerBytes = 0;
let budget = 0;
let tagHead = ''; // `[NAME] [SEQ-`
let tagHeadBytes = 0;
let maxFrames = Infinity; // the record's frame bound (FormatOptions.maxRecordFrames)
let cut = false; // the record passed maxFrames: the marker is written, the rest skipped
let held = ''; // frame number maxFrames: the record's last, or it gives way to the marker
let heldBytes = 0;
let marker = ''; // cutMarker(markerFor)
let markerFor = 0;

function bytesOf(s: string): number {
  return exact ? Buffer.byteLength(s, 'utf8') : s.length;
}

/** Decimal digits of a positive number below 10^6 (N, frame lengths; a frame is ≤ 10240 bytes). */
function digitsOf(v: number): number {
  return v < 10 ? 1 : v < 100 ? 2 : v < 1000 ? 3 : v < 10000 ? 4 : v < 100000 ? 5 : String(v).length;
}

/** One frame `<len> <header>[NAME] [SEQ-N] <head><text>`, its MSG being `msgBytes` bytes. */
function frame(head: string, text: string, msgBytes: number): void {
  if (n > maxFrames) {
    cutRecord();
    return;
  }
  const length = headerBytes + msgBytes;
  const piece = `${length} ${header}${tagHead}${n}] ${head}${text}`;
  const pieceBytes = digitsOf(length) + 1 + length;
  if (n === maxFrames) {
    // Only the next frame tells whether this one ends the record or makes way for the marker.
    held = piece;
    heldBytes = pieceBytes;
  } else {
    out += piece;
    total += pieceBytes;
  }
  n++;
  frames++;
}

/** A frame past maxFrames: the held frame becomes the marker, and the rest of the record is skipped. */
function cutRecord(): void {
  cut = true;
  held = '';
  if (markerFor !== maxFrames) {
    marker = cutMarker(maxFrames);
    markerFor = maxFrames;
  }
  // The marker is ASCII: characters are bytes in either pass.
  const length = headerBytes + tagHeadBytes + digitsOf(maxFrames) + 2 + marker.length;
  out += `${length} ${header}${tagHead}${maxFrames}] ${marker}`;
  total += digitsOf(length) + 1 + length;
}

/** One line, `head` + `text`, in as many frames as the budget wants (as taggedMessages). */
function line(head: string, headBytes: number, text: string, textBytes: number): void {
  if (cut) return;
  const tagBytes = tagHeadBytes + digitsOf(n) + 2;
  if (tagBytes + headBytes + textBytes <= budget) {
    frame(head, text, tagBytes + headBytes + textBytes);
    return;
  }
  // Over the cap: rare, so the whole line is built, and as bytes when they differ from characters.
  const whole = head + text;
  const bytes = headBytes + textBytes === whole.length ? undefined : Buffer.from(whole, 'utf8');
  const end = bytes === undefined ? whole.length : bytes.length;
  for (let start = 0; start < end && !cut; ) {
    const tag = tagHeadBytes + digitsOf(n) + 2;
    const room = budget - tag;
    if (room < MIN_ROOM_BYTES) {
      if (!exact) {
        giveUp = true; // the exact pass throws, with the tag as taggedMessages prints it
        return;
      }
      const text = `${tagHead}${n}] `;
      throw new FormatError('FORMAT_HEADER_TOO_LONG', `only ${room} bytes left for text after the tag ${JSON.stringify(text)}`);
    }
    const stop = bytes === undefined ? Math.min(start + room, end) : cutAt(bytes, start, room);
    const piece = bytes === undefined ? whole.slice(start, stop) : bytes.toString('utf8', start, stop);
    frame('', piece, tag + stop - start);
    start = stop;
  }
}

/** A part: its first line after `head`, continuation lines bare (as pushPart in lines.ts). */
function part(head: string, text: string): void {
  if (giveUp || cut) return;
  const headBytes = bytesOf(head);
  if (text.indexOf('\n') < 0) {
    line(head, headBytes, text, bytesOf(text));
    return;
  }
  // Multi-line: is it ASCII? (Decides how its lines are counted, and spares a doomed first pass.)
  const ascii = knownAscii || Buffer.byteLength(text, 'utf8') === text.length;
  if (!ascii && !exact) {
    giveUp = true;
    return;
  }
  // Line by line rather than split('\n'): a record cut at maxFrames stops here, and the lines
  // past the cut (a megabyte of them, maybe) are never made into strings.
  const end = keptEnd(text);
  for (let start = 0, first = true; !cut; first = false) {
    let stop = text.indexOf('\n', start);
    if (stop < 0 || stop > end) stop = end;
    const lineEnd = stop > start && text.charCodeAt(stop - 1) === CR ? stop - 1 : stop;
    const l = text.slice(start, lineEnd);
    const lBytes = ascii ? l.length : Buffer.byteLength(l, 'utf8');
    if (first) line(head, headBytes, l, lBytes);
    else line('', 0, l, lBytes);
    if (stop >= end) return;
    start = stop + 1;
  }
}

const CR = 13;

/**
 * Where the last line `text` keeps ends: trailing lines that are empty, or only a `\r`, are
 * dropped (pushPart in lines.ts), the first line never. Looks at the trailing lines only.
 */
function keptEnd(text: string): number {
  let end = text.length;
  while (end > 0) {
    const nl = text.lastIndexOf('\n', end - 1);
    if (nl < 0) return end;
    const length = end - nl - 1;
    if (length !== 0 && !(length === 1 && text.charCodeAt(end - 1) === CR)) return end;
    end = nl;
  }
  return 0;
}

function layOut(record: LogRecord, label: string, prefix: string): void {
  out = '';
  total = 0;
  frames = 0;
  n = 1;
  giveUp = false;
  cut = false;
  held = '';
  headerBytes = bytesOf(header);
  tagHeadBytes = bytesOf(tagHead);
  part(`${prefix}${label}:  `, record.ErrMessage ?? MISSING_MESSAGE);
  if (record.ErrDetail !== null) part(`${prefix}DETAIL:  `, record.ErrDetail);
  if (record.ErrHint !== null) part(`${prefix}HINT:  `, record.ErrHint);
  if (record.InternalQuery !== null) part(`${prefix}QUERY:  `, record.InternalQuery);
  if (record.ErrContext !== null) part(`${prefix}CONTEXT:  `, record.ErrContext);
  if (record.FileErrPos !== null && record.FileErrPos !== '') part(`${prefix}LOCATION:  `, record.FileErrPos);
  if (record.UserQuery !== null) part(`${prefix}STATEMENT:  `, record.UserQuery);
  if (held !== '') {
    // Frame maxFrames was the record's last after all.
    out += held;
    total += heldBytes;
    held = '';
  }
}

/** Frames of the record last written or measured by writeRecordFrames. */
export function framesWritten(): number {
  return frames;
}

/**
 * Writes the record's frames into `target` at `at`, never past `end`, and returns how many bytes
 * they take; or, when they do not fit, minus that many (bytes in [at, end) may then have been
 * scribbled on, nothing is committed). framesWritten() then gives their frame count either way.
 * `recordHeader` is the syslog header up to MSG, `maxBytes` the MSG budget (messageBudget),
 * `recordTagHead` `[NAME] [SEQ-` with NAME from tagName, `label` the severity label, `prefix` the
 * rendered line prefix, `recordMaxFrames` the most frames the record may become (past it, the
 * cutMarker ends it; lines.ts). `ascii`: the caller knows every one of these strings and every text field
 * of `record` to be ASCII (the decoder saw the bytes, the rest was checked once when cached), so
 * characters are counted as bytes and written as latin1. A wrong `true` would write wrong bytes:
 * when in doubt, pass false.
 *
 * Writing straight into the caller's buffer (the sink's open request body) is the point: a record
 * costs no Buffer of its own, and its bytes are copied once, from the string into the body.
 */
export function writeRecordFrames(
  recordHeader: string,
  maxBytes: number,
  recordTagHead: string,
  record: LogRecord,
  label: string,
  prefix: string,
  recordMaxFrames: number,
  ascii: boolean,
  target: Buffer,
  at: number,
  end: number,
): number {
  header = recordHeader;
  budget = maxBytes;
  tagHead = recordTagHead;
  maxFrames = recordMaxFrames;
  knownAscii = ascii;
  const room = end - at;
  try {
    exact = false;
    layOut(record, label, prefix);
    if (!giveUp) {
      // Known ASCII: characters are bytes and a latin1 write is a plain copy, nothing to prove.
      if (knownAscii) return total <= room ? target.write(out, at, total, 'latin1') : -total;
      // Otherwise one UTF-8 write both encodes and proves ASCII: bytes written === characters only
      // when every character is one byte, provided the write cannot be cut short, i.e. with room
      // for 3 bytes a character (a UTF-16 unit is at most 3 UTF-8 bytes). That replaces a
      // byteLength pass over the whole string. Near the end of the room, byteLength decides.
      if (total * 3 <= room) {
        if (target.write(out, at, room, 'utf8') === total) return total;
      } else if (Buffer.byteLength(out, 'utf8') === total) {
        return total <= room ? target.write(out, at, total, 'latin1') : -total;
      }
    }
    exact = true;
    layOut(record, label, prefix);
    return total <= room ? target.write(out, at, total, 'utf8') : -total;
  } finally {
    // Drop the references: a record's text should not outlive its call.
    out = '';
    held = '';
    header = '';
    tagHead = '';
  }
}
