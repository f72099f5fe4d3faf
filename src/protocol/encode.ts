// The sending side of logfebe-1, as pg_logfebe writes it: used by the emulator, tests and
// benchmarks to produce byte streams a real server would. Kept beside the decoder so the two
// read as mirror images.
import type { LogRecord } from './messages';

const TYPE_AND_LENGTH = 5; // type byte + int32 length

function frame(type: 'V' | 'I' | 'L', payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(TYPE_AND_LENGTH + payload.length);
  out.write(type, 0, 'latin1');
  out.writeInt32BE(payload.length + 4, 1); // the length counts itself, not the type byte
  payload.copy(out, TYPE_AND_LENGTH);
  return out;
}

type TextEncoding = 'utf8' | 'latin1';

const cstringIn = (s: string, encoding: TextEncoding = 'utf8'): Buffer => Buffer.concat([Buffer.from(s, encoding), Buffer.of(0)]);
const nullableIn = (s: string | null, encoding: TextEncoding = 'utf8'): Buffer =>
  s === null ? Buffer.from('N\0', 'latin1') : Buffer.concat([Buffer.from('P', 'latin1'), cstringIn(s, encoding)]);
const int32 = (n: number): Buffer => {
  const b = Buffer.allocUnsafe(4);
  b.writeInt32BE(n);
  return b;
};
const int64 = (n: number): Buffer => {
  const b = Buffer.allocUnsafe(8);
  b.writeBigInt64BE(BigInt(n));
  return b;
};
const uint64 = (n: number): Buffer => {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
};

/** `V` with the given full version string, e.g. `PG-15.20/logfebe-1`. */
export function encodeVersion(version: string): Buffer {
  return frame('V', cstringIn(version));
}

/**
 * What follows the identity's NUL in an `I`. Real pg_logfebe sizes the payload with
 * `strlen + sizeof '\0'`, which is 4 in C, so it copies 3 bytes past the terminator: whatever lies
 * there in the server's memory. `'garbage'` (the default) sends three such bytes, as PostgreSQL
 * 15.18 did (`7f 00 c0`: neither all NUL nor all set); `'nul'` sends three NULs, as servers whose
 * memory happened to be zero did; `'none'` is the spec-minimal form; bytes send exactly those (to
 * re-encode a capture).
 */
export type IdentityPadding = 'garbage' | 'nul' | 'none' | Uint8Array;

export const IDENTITY_GARBAGE: readonly number[] = [0x7f, 0x00, 0xc0];

/** `I` as real pg_logfebe sends it (see IdentityPadding). */
export function encodeIdentity(identity: string, opts: { padding?: IdentityPadding } = {}): Buffer {
  const padding = opts.padding ?? 'garbage';
  const tail =
    padding === 'garbage' ? Buffer.from(IDENTITY_GARBAGE) : padding === 'nul' ? Buffer.alloc(3) : padding === 'none' ? Buffer.alloc(0) : padding;
  return frame('I', Buffer.concat([cstringIn(identity), tail]));
}

/** `L` with every field in protocol order. */
export function encodeRecord(r: LogRecord): Buffer {
  return encodeRecordIn(r, 'utf8');
}

/**
 * encodeRecord, each character of the text written as the one byte of its code (below 256), so
 * a test can send text that is not UTF-8, as a server may.
 */
export function encodeLatin1Record(r: LogRecord): Buffer {
  return encodeRecordIn(r, 'latin1');
}

function encodeRecordIn(r: LogRecord, encoding: TextEncoding): Buffer {
  const cstring = (s: string): Buffer => cstringIn(s, encoding);
  const nullable = (s: string | null): Buffer => nullableIn(s, encoding);
  return frame(
    'L',
    Buffer.concat([
      cstring(r.LogTime),
      nullable(r.UserName),
      nullable(r.DatabaseName),
      int32(r.Pid),
      nullable(r.ClientAddr),
      cstring(r.SessionId),
      int64(r.SeqNum),
      nullable(r.PsDisplay),
      cstring(r.SessionStart),
      nullable(r.Vxid),
      uint64(r.Txid),
      int32(r.ELevel),
      nullable(r.SQLState),
      nullable(r.ErrMessage),
      nullable(r.ErrDetail),
      nullable(r.ErrHint),
      nullable(r.InternalQuery),
      int32(r.InternalQueryPos),
      nullable(r.ErrContext),
      nullable(r.UserQuery),
      int32(r.UserQueryPos),
      nullable(r.FileErrPos),
      nullable(r.ApplicationName),
    ]),
  );
}

/** A raw frame of any type byte, for tests of protocol violations. */
export function encodeRaw(type: string, payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(TYPE_AND_LENGTH + payload.length);
  out.write(type.slice(0, 1), 0, 'latin1');
  out.writeInt32BE(payload.length + 4, 1);
  payload.copy(out, TYPE_AND_LENGTH);
  return out;
}
