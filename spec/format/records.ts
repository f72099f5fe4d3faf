// Test support for the format specs: SourcedRecords built from the shared fixtures' JSON, and a
// strict reader that turns one octet-counted frame back into the readable form the expected
// files use: `<PRI> TIMESTAMP PROCID MSG`.
import type { Fixture } from '../support/fixtures';
import type { LogRecord, Severity, SeverityName } from '../../src/protocol/messages';
import type { Serve } from '../../src/servedb/serve';
import type { SourcedRecord } from '../../src/source/sourcedRecord';
import { Secret } from '../../src/secret';
import { createFormatter, type FormatOptions, type FormattedRecord } from '../../src/format';

export { aRecord } from '../support/records';

export const TOKEN = 't.6f1c2d3e-0000-4000-8000-000000000001';
// A receivedAt far from every fixture's LogTime, so a wrong fallback cannot go unnoticed.
export const RECEIVED_AT = Date.UTC(2030, 0, 2, 3, 4, 5, 678);
export const RECEIVED_AT_TEXT = '2030-01-02T03:04:05.678000+00:00';

// ELevel on PostgreSQL 14 and later (logfebe-protocol.md), written here rather than imported so
// the format specs do not depend on the decoder under construction.
const PG15_LEVELS: Readonly<Record<number, SeverityName>> = {
  10: 'DEBUG', 11: 'DEBUG', 12: 'DEBUG', 13: 'DEBUG', 14: 'DEBUG',
  15: 'LOG', 16: 'LOG', 17: 'INFO', 18: 'NOTICE', 19: 'WARNING', 20: 'WARNING',
  21: 'ERROR', 22: 'FATAL', 23: 'PANIC',
};

export function pg15Severity(elevel: number): Severity {
  const name = PG15_LEVELS[elevel];
  if (name === undefined) throw new Error(`test table has no elevel ${elevel}`);
  return { name, label: name };
}

export function serveNamed(name: string | undefined, token = TOKEN): Serve {
  return {
    identity: 'test identity',
    socketPath: '/tmp/test.sock',
    name,
    target: { url: 'https://logplex.example.com/logs', user: 'token', token: new Secret(token) },
  };
}

export function sourced(record: LogRecord, options: { serve?: Serve; severity?: Severity; receivedAt?: number } = {}): SourcedRecord {
  return {
    serve: options.serve ?? serveNamed('BLUE'),
    message: { type: 'L', record, severity: options.severity ?? pg15Severity(record.ELevel) },
    receivedAt: options.receivedAt ?? RECEIVED_AT,
  };
}

export function fixtureRecordsOf(fixture: Fixture): LogRecord[] {
  return fixture.messages.flatMap((m) => {
    if (m.type !== 'L') return [];
    const { type: _type, ...record } = m;
    return [record];
  });
}

/** A plain record: a LOG from a session, every optional part absent. Override what a test needs. */

export interface ParsedFrame {
  readonly length: number; // the octet count as written
  readonly bytes: number; // the bytes it actually counts
  readonly pri: number;
  readonly timestamp: string;
  readonly hostname: string;
  readonly appName: string;
  readonly procId: string;
  readonly msg: string;
}

const FRAME = /^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) - - ([^]*)$/;

/** Reads one Buffer from the formatter: exactly one octet-counted frame, nothing more or less. */
export function parseFrame(frame: Buffer): ParsedFrame {
  const space = frame.indexOf(0x20);
  const lengthText = frame.toString('latin1', 0, space);
  if (!/^[1-9]\d*$/.test(lengthText)) throw new Error(`bad octet count ${JSON.stringify(lengthText)}`);
  const syslog = frame.subarray(space + 1);
  const text = syslog.toString('utf8');
  // A cut in the middle of a character would decode to U+FFFD and re-encode differently.
  if (!Buffer.from(text, 'utf8').equals(syslog)) throw new Error('frame is not valid UTF-8');
  const m = FRAME.exec(text);
  if (m === null) throw new Error(`not a syslog frame: ${JSON.stringify(text.slice(0, 120))}`);
  return {
    length: Number(lengthText),
    bytes: syslog.length,
    pri: Number(m[1]),
    timestamp: m[2] as string,
    hostname: m[3] as string,
    appName: m[4] as string,
    procId: m[5] as string,
    msg: m[6] as string,
  };
}

/** `<134> 2026-11-25T01:59:18.131000+00:00 postgres.7634 [BLUE] [1-1] sql_error_code = …` */
export function readable(frame: Buffer): string {
  const f = parseFrame(frame);
  return `<${f.pri}> ${f.timestamp} ${f.procId} ${f.msg}`;
}

/**
 * A formatted record's Buffer cut into its frames, each `<len> <syslog>`, written here rather than
 * taken from src/format so a wrong count cannot hide: every count must land exactly on the next
 * one, the last on the end, and the frames found must be as many as the formatter says.
 */
export function framesOf(formatted: FormattedRecord): Buffer[] {
  const { bytes } = formatted;
  const frames: Buffer[] = [];
  let at = 0;
  while (at < bytes.length) {
    const space = bytes.indexOf(0x20, at);
    const lengthText = space < 0 ? '' : bytes.toString('latin1', at, space);
    if (!/^[1-9]\d*$/.test(lengthText)) throw new Error(`bad octet count ${JSON.stringify(lengthText)} at byte ${at}`);
    const end = space + 1 + Number(lengthText);
    if (end > bytes.length) throw new Error(`frame at byte ${at} runs past the record`);
    frames.push(bytes.subarray(at, end));
    at = end;
  }
  if (frames.length !== formatted.frames) throw new Error(`formatter says ${formatted.frames} frames, the bytes hold ${frames.length}`);
  return frames;
}

/** createFormatter(options), its records cut into one Buffer per frame for the specs to read. */
export function frameFormatter(options: Partial<FormatOptions> = {}): (rec: SourcedRecord) => Buffer[] {
  const format = createFormatter(options);
  return (rec) => framesOf(format(rec));
}
