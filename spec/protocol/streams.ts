// Helpers shared by the protocol specs: drive the decoder over chunks, and compare its output
// with the fixtures' JSON shape.
import { LogfebeDecoder } from '../../src/protocol/decoder';
import { ProtocolError } from '../../src/protocol/errors';
import type { LogfebeMessage, LogRecord } from '../../src/protocol/messages';
import type { ProtocolOptions } from '../../src/protocol/options';
import type { FixtureMessage } from '../support/fixtures';

/** Decode a whole connection delivered as these chunks, including the end-of-stream check. */
export function decodeChunks(chunks: readonly Buffer[], options: Partial<ProtocolOptions> = {}): LogfebeMessage[] {
  const decoder = new LogfebeDecoder(options);
  const out = chunks.flatMap((chunk) => decoder.push(chunk));
  decoder.end();
  return out;
}

/** The fixtures' JSON shape: V as {type, version}, I as {type, identity}, L as {type, ...record}. */
export function asFixtureMessage(message: LogfebeMessage): FixtureMessage {
  switch (message.type) {
    case 'V':
      return { type: 'V', version: message.version };
    case 'I':
      return { type: 'I', identity: message.identity };
    case 'L':
      return { type: 'L', ...message.record };
  }
}

/** `bytes` cut at the given sorted offsets. */
export function cutAt(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let from = 0;
  for (const cut of cuts) {
    chunks.push(bytes.subarray(from, cut));
    from = cut;
  }
  chunks.push(bytes.subarray(from));
  return chunks;
}

export const byteByByte = (bytes: Buffer): Buffer[] => Array.from(bytes, (b) => Buffer.of(b));

/** The ProtocolError decoding throws, or a failed expectation when it throws none. */
export function violationOf(chunks: readonly Buffer[], options: Partial<ProtocolOptions> = {}): ProtocolError {
  try {
    decodeChunks(chunks, options);
  } catch (error) {
    if (error instanceof ProtocolError) return error;
    throw error;
  }
  throw new Error('expected a ProtocolError, but the stream decoded');
}

/** A record with every nullable field present and recognisable, for byte surgery. */
export const fullRecord: LogRecord = {
  LogTime: '2026-11-25 01:59:18.131 UTC',
  UserName: 'postgres',
  DatabaseName: 'postgres',
  Pid: 7634,
  ClientAddr: '[local]',
  SessionId: '6b0640f6.1dd2',
  SeqNum: 3,
  PsDisplay: 'SELECT',
  SessionStart: '2026-11-25 01:59:18 UTC',
  Vxid: '3/7',
  Txid: 744,
  ELevel: 21,
  SQLState: '22012',
  ErrMessage: 'division by zero',
  ErrDetail: 'DETAIL-TEXT',
  ErrHint: 'HINT-TEXT',
  InternalQuery: 'INTERNAL-QUERY',
  InternalQueryPos: 4,
  ErrContext: 'CONTEXT-TEXT',
  UserQuery: 'select 1/0;',
  UserQueryPos: 9,
  FileErrPos: 'int4div, int.c:841',
  ApplicationName: 'psql',
};

/**
 * Field-by-field equality of two decodings; far cheaper than a generic deep equal, which matters
 * when a test decodes a capture once per possible cut.
 */
export function sameDecoding(a: readonly LogfebeMessage[], b: readonly LogfebeMessage[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((x, i) => {
    const y = b[i];
    if (y === undefined || x.type !== y.type) return false;
    if (x.type === 'V' && y.type === 'V') return x.version === y.version && x.major === y.major;
    if (x.type === 'I' && y.type === 'I') return x.identity === y.identity;
    if (x.type === 'L' && y.type === 'L') {
      const keys = Object.keys(x.record) as (keyof LogRecord)[];
      return (
        x.severity.label === y.severity.label &&
        keys.length === Object.keys(y.record).length &&
        keys.every((k) => x.record[k] === y.record[k])
      );
    }
    return false;
  });
}
