// The public entry of the format stage: a SourcedRecord → its logplex frames, ready to
// concatenate into an application/logplex-1 body; and the in-band L10 notices about drops.
//
// Per record this parses nothing but the LogTime (cached per second), renders the prefix once,
// builds the header once and writes every frame into one Buffer: the sink batches and concatenates
// records, never frames, so a Buffer per frame would only be copied again.
//
// L10 notices: the frame has our facility at warning severity (log-shuttle's choice), the serve's
// token as APP-NAME so logplex routes it to the same app, PROCID options.noticeProcId, and as MSG
// exactly the L10 text with no `[NAME] [SEQ-N]` tag: it is logplex's convention, drains parse it
// as is, and without a tag pgBadger cannot mistake it for a PostgreSQL line.
import type { Serve } from '../servedb/serve';
import type { SourcedRecord } from '../source/sourcedRecord';
import { frameHeader, octetFrame, octetFrames } from './frame';
import { recordLines, tagName, taggedMessages } from './lines';
import { type FormatOptions, MAX_FRAME_BYTES, resolveFormatOptions, validateFormatOptions } from './options';
import { compilePrefix } from './prefix';
import { NOTICE_SYSLOG_SEVERITY, syslogPri } from './severity';
import { formatUtcMicros, formatUtcSeconds, syslogTimestamp } from './timestamp';

/** A record's octet-counted frames, back to back: a ready piece of an application/logplex-1 body. */
export interface FormattedRecord {
  readonly bytes: Buffer;
  readonly frames: number; // how many frames `bytes` holds (logplex counts frames: Logplex-Msg-Count)
}

export type RecordFormatter = (rec: SourcedRecord) => FormattedRecord;

/** The MSG budget for a header: the cap, or less when an unusually long token eats into 10240. */
function messageBudget(header: string, maxMessageBytes: number): number {
  // A UTF-16 code unit is at most 3 UTF-8 bytes: a header that surely fits needs no counting.
  if (header.length * 3 <= MAX_FRAME_BYTES - maxMessageBytes) return maxMessageBytes;
  return Math.min(maxMessageBytes, MAX_FRAME_BYTES - Buffer.byteLength(header));
}

/** Compiles the options once (prefix included) and returns the per-record function. */
export function createFormatter(options: Partial<FormatOptions> = {}): RecordFormatter {
  const { linePrefix, facility, hostname, maxMessageBytes } = resolveFormatOptions(options);
  const prefix = compilePrefix(linePrefix);
  return (rec) => {
    const { record, severity } = rec.message;
    const timestamp = syslogTimestamp(record.LogTime, rec.receivedAt);
    const header = frameHeader(syslogPri(facility, severity.name), timestamp, hostname, rec.serve.target.token.reveal(), `postgres.${record.Pid}`);
    const budget = messageBudget(header, maxMessageBytes);
    const lines = recordLines(record, severity.label, prefix(record));
    const messages = taggedMessages(lines, tagName(rec.serve.name), record.SeqNum, budget);
    return { bytes: octetFrames(header, messages), frames: messages.length };
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
