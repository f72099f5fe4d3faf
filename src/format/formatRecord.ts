// The public entry of the format stage: a SourcedRecord → its logplex frames, ready to
// concatenate into an application/logplex-1 body; and the in-band L10 notices about drops.
//
// Per record this parses nothing but the LogTime (cached per second), renders the prefix once,
// builds the header once and writes every frame in one go (recordFrames.ts). The sink writes
// records straight into its request body (createRecordWriter); createFormatter gives a record its
// own Buffer, for callers that want one.
//
// L10 notices: the frame has our facility at warning severity (log-shuttle's choice), the serve's
// token as APP-NAME so logplex routes it to the same app, PROCID options.noticeProcId, and as MSG
// exactly the L10 text with no `[NAME] [SEQ-N]` tag: it is logplex's convention, drains parse it
// as is, and without a tag pgBadger cannot mistake it for a PostgreSQL line.
import type { RecordMessage, SeverityName } from '../protocol/messages';
import type { Secret } from '../secret';
import type { Serve } from '../servedb/serve';
import type { SourcedRecord } from '../source/sourcedRecord';
import { frameHeader, octetFrame } from './frame';
import { framesWritten, writeRecordFrames } from './recordFrames';
import { tagName } from './lines';
import { type FormatOptions, MAX_FRAME_BYTES, resolveFormatOptions, validateFormatOptions } from './options';
import { compilePrefix } from './prefix';
import { NOTICE_SYSLOG_SEVERITY, SYSLOG_SEVERITY, syslogPri } from './severity';
import { formatUtcMicros, formatUtcSeconds, syslogTimestamp } from './timestamp';
import { WireFrameWriter } from './wireFrames';
import { compileWirePrefix } from './wirePrefix';
import { WireRecord } from '../protocol/wireRecord';

/** A record's octet-counted frames, back to back: a ready piece of an application/logplex-1 body. */
export interface FormattedRecord {
  readonly bytes: Buffer;
  readonly frames: number; // how many frames `bytes` holds (logplex counts frames: Logplex-Msg-Count)
}

export type RecordFormatter = (rec: SourcedRecord) => FormattedRecord;

/** Writes records' frames into buffers of the caller's (the sink's open request body). */
export interface RecordWriter {
  /**
   * Writes the frames of `message`, read at `receivedAt` on `serve`, into `target` from `at`,
   * never past `end`; returns the bytes written, or minus the bytes needed when they do not fit
   * (then nothing is committed, though bytes in [at, end) may have been scribbled on). Throws
   * FormatError for a record that cannot be framed. The parts come apart, not as a
   * SourcedRecord: the sink writes the records of a chunk, which share serve and read time,
   * without an object per record.
   */
  readonly write: (serve: Serve, message: RecordMessage, receivedAt: number, target: Buffer, at: number, end: number) => number;
  /** Frames of the record last written or measured. */
  readonly frames: () => number;
}

/** The MSG budget for a header: the cap, or less when an unusually long token eats into 10240. */
function messageBudget(header: string, maxMessageBytes: number): number {
  // A UTF-16 code unit is at most 3 UTF-8 bytes: a header that surely fits needs no counting.
  if (header.length * 3 <= MAX_FRAME_BYTES - maxMessageBytes) return maxMessageBytes;
  return Math.min(maxMessageBytes, MAX_FRAME_BYTES - Buffer.byteLength(header));
}

/** Header tails of one token: per Pid (as a string, and as bytes for the byte path), and whether hostname and token are ASCII. */
interface TokenTails {
  readonly ascii: boolean;
  readonly byPid: Map<number, string>;
  readonly bytesByPid: Map<number, Buffer>;
}

const isAscii = (s: string): boolean => Buffer.byteLength(s, 'utf8') === s.length;

// Distinct PIDs remembered per token before that token's PROCID cache starts over: more than the
// backends of any one server (max_connections), and each entry is a short string.
const PROCID_CACHE_LIMIT = 4096;

/** Compiles the options once (prefix included) and returns the per-record writer. */
export function createRecordWriter(options: Partial<FormatOptions> = {}): RecordWriter {
  const { linePrefix, facility, hostname, maxMessageBytes, maxRecordFrames } = resolveFormatOptions(options);
  const prefix = compilePrefix(linePrefix);

  // `<PRI>1 ` per severity: the facility is fixed here, so there are eight.
  const priHeads = new Map<SeverityName, string>();
  for (const name of Object.keys(SYSLOG_SEVERITY) as SeverityName[]) priHeads.set(name, `<${syslogPri(facility, name)}>1 `);

  // The header after TIMESTAMP, ` HOSTNAME APP-NAME postgres.<Pid> - - `, is fixed per (token,
  // Pid): cached per token Secret object (a WeakMap, so a serve dropped on reload takes its
  // entry with it), then per Pid, bounded by PROCID_CACHE_LIMIT (cleared when full). Keying by
  // the Secret object is safe because a Secret never changes its value; a reloaded serve with a
  // new token has a new Secret. The last token's map is kept at hand: records come in runs of
  // one serve, and the revealed token lives only in these strings, as it did in every header.
  // Whether hostname and token are ASCII is checked here once, not per record.
  const tails = new WeakMap<Secret, TokenTails>();
  const hostAscii = isAscii(hostname);
  let lastToken: Secret | undefined;
  let last: TokenTails = { ascii: true, byPid: new Map(), bytesByPid: new Map() };
  const tailsOf = (token: Secret): TokenTails => {
    if (token !== lastToken) {
      let forToken = tails.get(token);
      if (forToken === undefined) {
        forToken = { ascii: hostAscii && isAscii(token.reveal()), byPid: new Map(), bytesByPid: new Map() };
        tails.set(token, forToken);
      }
      lastToken = token;
      last = forToken;
    }
    return last;
  };
  const headerTail = (token: Secret, pid: number): string => {
    tailsOf(token);
    let tail = last.byPid.get(pid);
    if (tail === undefined) {
      tail = ` ${hostname} ${token.reveal()} postgres.${pid} - - `;
      if (last.byPid.size >= PROCID_CACHE_LIMIT) last.byPid.clear();
      last.byPid.set(pid, tail);
    }
    return tail;
  };

  // The tag's `[NAME] [` for the last serve name seen (tagName counts bytes for long names).
  let lastName: string | undefined = '\0'; // no serve name is a NUL: the first record computes
  let lastTagStart = '';
  let lastTagAscii = true;
  // Escapes render record fields (vouched for by the record's flag) or digits and spaces, so an
  // ASCII template renders ASCII for an ASCII record.
  const prefixAscii = isAscii(linePrefix);

  // The byte path (wireFrames.ts): `<PRI>1 ` as bytes per severity, the tail per (token, Pid),
  // the tag's start per serve name; taken when those are ASCII and the record valid UTF-8.
  const wire = new WireFrameWriter(compileWirePrefix(linePrefix), maxMessageBytes, maxRecordFrames);
  const priBytes = new Map<SeverityName, Buffer>();
  for (const [name, head] of priHeads) priBytes.set(name, Buffer.from(head, 'latin1'));
  let lastTagBytes = Buffer.alloc(0);
  let wroteWire = false; // which path wrote the last record: frames() asks it

  const tagStart = (name: string | undefined): void => {
    if (name === lastName) return;
    lastName = name;
    lastTagStart = `[${tagName(name)}] [`;
    lastTagAscii = isAscii(lastTagStart);
    lastTagBytes = Buffer.from(lastTagStart, 'latin1');
  };

  const writeWire = (serve: Serve, record: WireRecord, receivedAt: number, target: Buffer, at: number, end: number): number | null => {
    const forToken = tailsOf(serve.target.token);
    tagStart(serve.name);
    if (!forToken.ascii || !lastTagAscii) return null;
    const pri = priBytes.get(record.severity.name);
    if (pri === undefined) return null;
    const pid = record.Pid;
    let tail = forToken.bytesByPid.get(pid);
    if (tail === undefined) {
      tail = Buffer.from(headerTail(serve.target.token, pid), 'latin1');
      if (forToken.bytesByPid.size >= PROCID_CACHE_LIMIT) forToken.bytesByPid.clear();
      forToken.bytesByPid.set(pid, tail);
    }
    return wire.write(pri, tail, lastTagBytes, record, record.severity.label, receivedAt, target, at, end);
  };

  const write = (serve: Serve, message: RecordMessage, receivedAt: number, target: Buffer, at: number, end: number): number => {
    if (message instanceof WireRecord && prefixAscii) {
      const written = writeWire(serve, message, receivedAt, target, at, end);
      wroteWire = written !== null;
      if (written !== null) return written;
    } else {
      wroteWire = false;
    }
    const { record, severity } = message;
    const timestamp = syslogTimestamp(record.LogTime, receivedAt);
    const priHead = priHeads.get(severity.name) ?? `<${syslogPri(facility, severity.name)}>1 `;
    const header = priHead + timestamp + headerTail(serve.target.token, record.Pid);
    const budget = messageBudget(header, maxMessageBytes);
    tagStart(serve.name);
    const tagHead = `${lastTagStart}${record.SeqNum}-`;
    // Severity labels, PRI and timestamps are always ASCII. Only the decoder's own flag counts
    // for the record: a message built by hand is checked as it always was.
    const ascii = message.ascii === true && prefixAscii && last.ascii && lastTagAscii;
    return writeRecordFrames(header, budget, tagHead, record, severity.label, prefix(record), maxRecordFrames, ascii, target, at, end);
  };
  return { write, frames: () => (wroteWire ? wire.frames : framesWritten()) };
}

// Records of up to this many bytes are written here first, then copied out at their size.
const SCRATCH_BYTES = 1 << 16;

/** Compiles the options once (prefix included) and returns the per-record function: one Buffer a record. */
export function createFormatter(options: Partial<FormatOptions> = {}): RecordFormatter {
  const writer = createRecordWriter(options);
  const scratch = Buffer.allocUnsafeSlow(SCRATCH_BYTES);
  return (rec) => {
    const n = writer.write(rec.serve, rec.message, rec.receivedAt, scratch, 0, SCRATCH_BYTES);
    if (n >= 0) return { bytes: Buffer.from(scratch.subarray(0, n)), frames: writer.frames() };
    const bytes = Buffer.allocUnsafe(-n); // bigger than the scratch: written in place, at its size
    writer.write(rec.serve, rec.message, rec.receivedAt, bytes, 0, bytes.length);
    return { bytes, frames: writer.frames() };
  };
}

// formatRecord(rec, options) compiles each options object once, on first use.
const compiled = new WeakMap<FormatOptions, RecordFormatter>();

/** `createFormatter(options)(rec)`, compiling once per options object. */
export function formatRecord(rec: SourcedRecord, options: FormatOptions): FormattedRecord {
  let format = compiled.get(options);
  if (format === undefined) {
    format = createFormatter(options);
    compiled.set(options, format);
  }
  return format(rec);
}

export type L10Kind = 'dropped' | 'lost';

/**
 * `Error L10 (output buffer overflow): 120 messages dropped since 2026-11-25T01:43:51+00:00.`
 * (`lost` for batches given up after retries). `since` prints in UTC, whole seconds.
 */
export function l10Text(kind: L10Kind, count: number, since: Date): string {
  return `Error L10 (output buffer overflow): ${count} messages ${kind} since ${formatUtcSeconds(since)}.`;
}

/** One frame telling the serve's readers, in band, about `message` (an l10Text); at `at`. */
export function formatNotice(serve: Serve, message: string, at: Date, options: FormatOptions): Buffer {
  const { facility, hostname, maxMessageBytes, noticeProcId } = validateFormatOptions(options);
  const header = frameHeader(facility * 8 + NOTICE_SYSLOG_SEVERITY, formatUtcMicros(at.getTime()), hostname, serve.target.token.reveal(), noticeProcId);
  // Our own one-line text: anything else is a bug here, not something to split or repair.
  if (/[\r\n]/.test(message) || Buffer.byteLength(message) > messageBudget(header, maxMessageBytes)) {
    throw new RangeError(`format: a notice must be one line within ${maxMessageBytes} bytes, got ${JSON.stringify(message.slice(0, 80))}`);
  }
  return octetFrame(header, message);
}
