// Reading an application/logplex-1 body back into frames (docs/logplex-input.md), the
// way logplex's own parser would: octet-counted RFC 6587 frames holding RFC 5424 messages. Tests
// and the stand-in use it to prove what the sink sent, so it is strict where logplex is strict
// (byte lengths, the 10240-byte cap) and says exactly where a body went wrong.

import { CollectorError } from '../errors';
import { MAX_FRAME_BYTES } from '../format/options';

export { MAX_FRAME_BYTES }; // logplex's limit, from the spec; defined once, in format/options.ts

// A length prefix longer than this many digits can only be garbage (10240 has 5).
const MAX_LENGTH_DIGITS = 6;

const SPACE = 0x20;
const LT = 0x3c;
const GT = 0x3e;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const BACKSLASH = 0x5c;

/** One RFC 5424 message as logplex would see it. */
export interface LogplexFrame {
  readonly pri: number; // facility * 8 + severity, e.g. 134 for local0.info
  readonly timestamp: string; // as sent, e.g. `2026-11-25T01:43:51.596000+00:00`
  readonly hostname: string;
  readonly appName: string; // the logplex token (`t.…`)
  readonly procId: string; // `postgres.<pid>`
  readonly msgId: string;
  readonly sd: string; // structured data, `-` when none
  readonly msg: string; // decoded as UTF-8
  readonly bytes: number; // the frame's length prefix: bytes of the syslog message
}

export type LogplexBodyErrorCode =
  | 'LOGPLEX_BAD_LENGTH' // the length prefix is not `<digits> `
  | 'LOGPLEX_TRUNCATED' // the body ends before the frame's length does
  | 'LOGPLEX_FRAME_TOO_LARGE' // over MAX_FRAME_BYTES
  | 'LOGPLEX_BAD_SYSLOG'; // the message is not `<PRI>1 TS HOST APP PROCID MSGID SD [MSG]`

export class LogplexBodyError extends CollectorError {
  override readonly name = 'LogplexBodyError';
  constructor(
    readonly code: LogplexBodyErrorCode,
    readonly frameIndex: number, // 0-based frame where parsing stopped
    readonly offset: number, // byte offset in the body where that frame starts
    detail: string,
  ) {
    super(`${code}: frame ${frameIndex} at byte ${offset}: ${detail}`);
  }
}

/** Where one frame's fields lie in the body; found without allocating strings. */
interface FrameLayout {
  pri: number;
  msgStart: number; // first byte of the syslog message (after `<len> `)
  msgEnd: number; // one past its last byte
  fieldStart: number[]; // TIMESTAMP, HOSTNAME, APP-NAME, PROCID, MSGID, SD
  fieldEnd: number[];
  bodyStart: number; // MSG, possibly empty (== msgEnd)
}

const HEADER_FIELDS = 6;

function newLayout(): FrameLayout {
  return {
    pri: 0,
    msgStart: 0,
    msgEnd: 0,
    fieldStart: new Array<number>(HEADER_FIELDS).fill(0),
    fieldEnd: new Array<number>(HEADER_FIELDS).fill(0),
    bodyStart: 0,
  };
}

/**
 * Reads the frame starting at `offset` into `layout`; returns the offset of the next frame.
 * Shared by the full parser and the counting scan so both reject exactly the same bodies.
 */
function scanFrame(body: Buffer, offset: number, frameIndex: number, layout: FrameLayout): number {
  let i = offset;
  let len = 0;
  while (i < body.length && body[i] !== SPACE) {
    const c = body[i] as number;
    if (c < DIGIT_0 || c > DIGIT_9 || i - offset >= MAX_LENGTH_DIGITS) {
      throw new LogplexBodyError('LOGPLEX_BAD_LENGTH', frameIndex, offset, `byte 0x${c.toString(16)} in length prefix`);
    }
    len = len * 10 + (c - DIGIT_0);
    i++;
  }
  if (i === offset) throw new LogplexBodyError('LOGPLEX_BAD_LENGTH', frameIndex, offset, 'empty length prefix');
  if (i >= body.length) throw new LogplexBodyError('LOGPLEX_TRUNCATED', frameIndex, offset, 'body ends in the length prefix');
  if (len > MAX_FRAME_BYTES) {
    throw new LogplexBodyError('LOGPLEX_FRAME_TOO_LARGE', frameIndex, offset, `${len} bytes > ${MAX_FRAME_BYTES}`);
  }
  if (len === 0) throw new LogplexBodyError('LOGPLEX_BAD_LENGTH', frameIndex, offset, 'zero-length frame');
  const start = i + 1;
  const end = start + len;
  if (end > body.length) {
    throw new LogplexBodyError('LOGPLEX_TRUNCATED', frameIndex, offset, `needs ${len} bytes, ${body.length - start} left`);
  }
  layout.msgStart = start;
  layout.msgEnd = end;

  const bad = (why: string): LogplexBodyError => new LogplexBodyError('LOGPLEX_BAD_SYSLOG', frameIndex, offset, why);
  // <PRI>1 — PRI is 1 to 3 digits, at most 191 (RFC 5424 §6.2.1).
  let p = start;
  if (body[p] !== LT) throw bad('message does not start with <PRI>');
  p++;
  let pri = 0;
  const priStart = p;
  while (p < end && (body[p] as number) >= DIGIT_0 && (body[p] as number) <= DIGIT_9 && p - priStart < 3) {
    pri = pri * 10 + ((body[p] as number) - DIGIT_0);
    p++;
  }
  if (p === priStart || body[p] !== GT || pri > 191) throw bad('bad PRI');
  p++;
  if (body[p] !== 0x31 || body[p + 1] !== SPACE || p + 1 >= end) throw bad('version is not `1 `');
  p += 2;
  layout.pri = pri;

  for (let f = 0; f < HEADER_FIELDS; f++) {
    if (p >= end) throw bad(`missing field ${f + 2} of 7`);
    layout.fieldStart[f] = p;
    if (f === HEADER_FIELDS - 1 && body[p] === OPEN_BRACKET) {
      // SD elements may hold spaces inside quoted values: skip to the `]` that ends the last one.
      p = skipStructuredData(body, p, end, bad);
    } else {
      while (p < end && body[p] !== SPACE) p++;
    }
    if (p === layout.fieldStart[f]) throw bad(`empty field ${f + 2} of 7`);
    layout.fieldEnd[f] = p;
    if (p < end) p++; // the separating space
    else if (f < HEADER_FIELDS - 1) throw bad(`missing field ${f + 3} of 7`);
  }
  // RFC 5424 lets MSG be absent (no space after SD); we read that as an empty message.
  layout.bodyStart = p;
  return end;
}

function skipStructuredData(body: Buffer, p: number, end: number, bad: (why: string) => LogplexBodyError): number {
  while (p < end && body[p] === OPEN_BRACKET) {
    let inQuotes = false;
    p++;
    for (;;) {
      if (p >= end) throw bad('unterminated structured data');
      const c = body[p];
      if (inQuotes && c === BACKSLASH) p += 2;
      else {
        if (c === 0x22) inQuotes = !inQuotes;
        p++;
        if (!inQuotes && c === CLOSE_BRACKET) break;
      }
    }
  }
  if (p < end && body[p] !== SPACE) throw bad('structured data not followed by a space');
  return p;
}

/** Parses a whole body; throws LogplexBodyError on the first malformed frame. */
export function parseLogplexBody(body: Buffer): LogplexFrame[] {
  const frames: LogplexFrame[] = [];
  const l = newLayout();
  let offset = 0;
  while (offset < body.length) {
    const next = scanFrame(body, offset, frames.length, l);
    // Header fields are ASCII by RFC 5424 (PRINTUSASCII); latin1 decodes them faster than utf8.
    const field = (f: number): string => body.toString('latin1', l.fieldStart[f], l.fieldEnd[f]);
    frames.push({
      pri: l.pri,
      timestamp: field(0),
      hostname: field(1),
      appName: field(2),
      procId: field(3),
      msgId: field(4),
      sd: field(5),
      msg: body.toString('utf8', l.bodyStart, l.msgEnd),
      bytes: l.msgEnd - l.msgStart,
    });
    offset = next;
  }
  return frames;
}

/**
 * Validates a body exactly like parseLogplexBody and returns its frame count, without building
 * frames: the stand-in's fast path when nobody looks at the frames (benchmarks).
 */
export function countLogplexFrames(body: Buffer): number {
  const l = newLayout();
  let offset = 0;
  let count = 0;
  while (offset < body.length) {
    offset = scanFrame(body, offset, count, l);
    count++;
  }
  return count;
}

/** One frame, encoded as a sender would: for tests that build bodies. */
export function encodeLogplexFrame(syslogMessage: string): string {
  return `${Buffer.byteLength(syslogMessage, 'utf8')} ${syslogMessage}`;
}
