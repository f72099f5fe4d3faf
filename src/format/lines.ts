// A record → its lines → the MSG of each frame, the way PostgreSQL's own server log and syslog
// output lay them out (docs/log-format.md), so line-based readers (heroku logs,
// drains, pgBadger) read them unchanged.
//
// Decisions:
// - Parts come in PostgreSQL's order: LEVEL, DETAIL, HINT, QUERY, CONTEXT, LOCATION, STATEMENT.
//   A part is absent when its field is null; an empty string still prints (`DETAIL:  `), as
//   PostgreSQL prints an empty detail. LOCATION is absent when FileErrPos is empty too: pg_logfebe
//   sends an empty string when PostgreSQL knew no source position, and PostgreSQL prints none.
// - Continuation lines (the second and later lines of a multi-line field) are the field's text
//   verbatim: no prefix, and no leading tab either (PostgreSQL's append_with_tabs adds one; the
//   spec's line is the text itself, so a statement reads back byte for byte).
// - `\r\n` breaks a line like `\n` (the `\r` is dropped: statements typed on Windows would
//   otherwise end every frame with a stray carriage return). A lone `\r` is text.
// - Empty lines inside a field stay, as frames with nothing after the tag, so line numbers and
//   the text survive; empty lines at the end of a field are dropped, as PostgreSQL's syslog
//   splitter skips the trailing newline.
// - A line over the cap continues in the next frame(s), each with the next N and, like
//   PostgreSQL's syslog splitter, without the prefix: the pieces concatenate back to the line.
//   Cuts fall on UTF-8 character boundaries, never on word boundaries (PostgreSQL tries those),
//   so concatenation needs no guessing about spaces.
// - A record becomes at most maxRecordFrames frames (FormatOptions). One that would take more
//   keeps its first maxRecordFrames - 1 frames, and its last frame (N = maxRecordFrames) is
//   cutMarker(maxRecordFrames) instead of the rest: visible where the text stops, bare like a
//   continuation line, ASCII. Cutting, not joining the rest into longer frames, because the rest
//   can be a megabyte of short lines, and rewriting it would cost as much as framing it.
import type { LogRecord } from '../protocol/messages';
import { FormatError } from './errors';

// What PostgreSQL prints when a record has no message at all (elog.c).
export const MISSING_MESSAGE = 'missing error text';

// One UTF-8 character is at most 4 bytes: a cut needs at least that much room to progress.
export const MIN_ROOM_BYTES = 4;

/** Cap on a serve's NAME inside the tag, so a pathological name cannot crowd out the text. */
export const MAX_NAME_BYTES = 256;

/** The MSG text of the frame that replaces the rest of a record past `maxFrames` frames. */
export function cutMarker(maxFrames: number): string {
  return `... (cut: this record takes more than ${maxFrames} frames; the rest is not shown)`;
}

/** Appends the lines of `text` to `out`, the first one after `head`. */
function pushPart(out: string[], head: string, text: string): void {
  // Fast path: almost every field is one line.
  if (text.indexOf('\n') < 0) {
    out.push(head + text);
    return;
  }
  const lines = text.split('\n');
  let last = lines.length - 1;
  for (let i = 0; i <= last; i++) {
    const line = lines[i] as string;
    if (line.endsWith('\r')) lines[i] = line.slice(0, -1);
  }
  // Trailing empty lines carry nothing; the first line always stays (it carries the head).
  while (last > 0 && lines[last] === '') last--;
  out.push(head + (lines[0] as string));
  for (let i = 1; i <= last; i++) out.push(lines[i] as string);
}

/**
 * The record's lines: each part's first line carries `prefix` and `LABEL:  `, continuation lines
 * are bare. `label` is the severity label (`ERROR`, or `LOG (elevel 42)` for unknown levels).
 */
export function recordLines(record: LogRecord, label: string, prefix: string): string[] {
  const out: string[] = [];
  pushPart(out, `${prefix}${label}:  `, record.ErrMessage ?? MISSING_MESSAGE);
  if (record.ErrDetail !== null) pushPart(out, `${prefix}DETAIL:  `, record.ErrDetail);
  if (record.ErrHint !== null) pushPart(out, `${prefix}HINT:  `, record.ErrHint);
  if (record.InternalQuery !== null) pushPart(out, `${prefix}QUERY:  `, record.InternalQuery);
  if (record.ErrContext !== null) pushPart(out, `${prefix}CONTEXT:  `, record.ErrContext);
  if (record.FileErrPos !== null && record.FileErrPos !== '') pushPart(out, `${prefix}LOCATION:  `, record.FileErrPos);
  if (record.UserQuery !== null) pushPart(out, `${prefix}STATEMENT:  `, record.UserQuery);
  return out;
}

/** The NAME of the tag: the serve's name, `DATABASE` without one, clipped to MAX_NAME_BYTES. */
export function tagName(name: string | undefined): string {
  if (name === undefined) return 'DATABASE';
  if (name.length * 3 <= MAX_NAME_BYTES || Buffer.byteLength(name) <= MAX_NAME_BYTES) return name;
  return clipUtf8(Buffer.from(name), 0, MAX_NAME_BYTES);
}

/** The end of the longest run from `start` of at most `room` bytes that ends on a character boundary. */
export function cutAt(bytes: Buffer, start: number, room: number): number {
  let end = start + room;
  if (end >= bytes.length) return bytes.length;
  // Back off over continuation bytes (10xxxxxx): the cut lands before a character's first byte.
  while (end > start && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  return end;
}

function clipUtf8(bytes: Buffer, start: number, room: number): string {
  return bytes.toString('utf8', start, cutAt(bytes, start, room));
}

/**
 * Each line as one or more frame messages `[NAME] [SEQ-N] <text>`, N counting 1, 2, 3 over all
 * of them; none longer than `maxBytes` bytes. `name` is already the tag's NAME (see tagName).
 * More than `maxFrames` of them: the first maxFrames - 1, then the cutMarker.
 */
export function taggedMessages(lines: readonly string[], name: string, seq: number, maxBytes: number, maxFrames = Infinity): string[] {
  const out = allTaggedMessages(lines, name, seq, maxBytes);
  if (out.length <= maxFrames) return out;
  out.length = maxFrames - 1;
  out.push(`[${name}] [${seq}-${maxFrames}] ${cutMarker(maxFrames)}`);
  return out;
}

function allTaggedMessages(lines: readonly string[], name: string, seq: number, maxBytes: number): string[] {
  const out: string[] = [];
  const tagHead = `[${name}] [${seq}-`;
  let n = 1;
  for (const line of lines) {
    const message = `${tagHead}${n}] ${line}`;
    // A UTF-16 code unit is at most 3 UTF-8 bytes: short lines need no counting at all.
    if (message.length * 3 <= maxBytes || Buffer.byteLength(message) <= maxBytes) {
      out.push(message);
      n++;
      continue;
    }
    const bytes = Buffer.from(line);
    let start = 0;
    while (start < bytes.length) {
      const tag = `${tagHead}${n}] `;
      const room = maxBytes - Buffer.byteLength(tag);
      if (room < MIN_ROOM_BYTES) {
        throw new FormatError('FORMAT_HEADER_TOO_LONG', `only ${room} bytes left for text after the tag ${JSON.stringify(tag)}`);
      }
      const end = cutAt(bytes, start, room);
      out.push(tag + bytes.toString('utf8', start, end));
      n++;
      start = end;
    }
  }
  return out;
}
