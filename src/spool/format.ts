// The spool's on-disk format, pure: one batch as one record, and a segment (a file of records)
// checked record by record. Nothing here touches the disk; store.ts does, with these functions.
//
//   record  = header payload
//   header  = "PGS2" (4) | payload length (u32 BE) | CRC32 of length+payload (u32 BE) | state (1)
//   payload = meta length (u32 BE) | meta (UTF-8 JSON) | body (the rest: the POST body, gzip or not)
//
// The meta length is 32 bits so that any serve the serve db accepts fits (its fields are bounded,
// servedb/validate.ts, but JSON escapes a control character as six bytes): a batch that cannot be
// written is a batch lost.
//
// The magic makes a zero-filled or foreign tail fail at once (a zero length with a zero CRC would
// otherwise check out). The CRC covers the length too, so a corrupt length is caught even where it
// lands on bytes that happen to fit. The state byte is outside the CRC because it is the one byte
// written after the record: 'P' while pending, 'D' once logplex accepted the batch (store.ts
// rewrites it in place), so a restart does not post again what was already delivered.
//
// A segment is read from its start and stops at the first record that does not check out: what
// follows damage is never trusted (a length that is wrong cannot say where the next record
// starts), so damage loses the rest of its segment, never invents a batch. Segments are small
// (store.ts rolls them at a few MiB) so the rest is bounded.
import type * as Zlib from 'node:zlib';
import { Secret } from '../secret';
import type { Serve } from '../servedb/serve';

/** One batch as spooled: everything needed to post it later, by a process that never saw it. */
export interface SpooledBatch {
  readonly serve: Serve; // where and as whom to post; its token is written to the file (hence 0600)
  readonly body: Buffer; // octet-counted frames, gzipped when `gzipped`
  readonly gzipped: boolean;
  readonly frameCount: number; // Logplex-Msg-Count, L10 notices included
  readonly logFrames: number; // frames from PostgreSQL records (what is lost if the batch is)
  readonly dropCount: number; // Logplex-Drop-Count announced by an L10 frame in the body
  readonly lostCount: number; // Logplex-Lost-Count likewise
  readonly createdAtMs: number; // when the batch was formed: the spool's age is its oldest batch's
}

export const MAGIC = Buffer.from('PGS2', 'latin1');
export const HEADER_BYTES = 13;
const LENGTH_AT = 4;
const CRC_AT = 8;
export const STATE_AT = 12;
export const STATE_PENDING = 0x50; // 'P'
export const STATE_DELIVERED = 0x44; // 'D'

/**
 * Largest payload a reader accepts. Bodies are at most maxBatchBytes (1 MiB) plus L10 notices
 * before gzip; 64 MiB leaves room for any configured batch size while refusing the gigabyte
 * lengths a corrupt header can claim (which would otherwise be read into memory).
 */
export const MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;
const META_LENGTH_BYTES = 4;

/** The JSON part of a payload. Field names are short: it is written once per batch. */
interface Meta {
  readonly v: 2;
  readonly p: string; // socket path
  readonly i: string; // identity
  readonly n: string | null; // serve name
  readonly u: string; // logplex URL without credentials
  readonly a: string; // basic-auth user
  readonly t: string; // token
  readonly g: boolean; // body gzipped
  readonly f: number; // frameCount
  readonly l: number; // logFrames
  readonly d: number; // dropCount
  readonly o: number; // lostCount
  readonly c: number; // createdAtMs
}

/** A batch as one record, state pending. */
export function encodeRecord(batch: SpooledBatch): Buffer {
  const { serve } = batch;
  const meta: Meta = {
    v: 2,
    p: serve.socketPath,
    i: serve.identity,
    n: serve.name ?? null,
    u: serve.target.url,
    a: serve.target.user,
    t: serve.target.token.reveal(), // the file is the serve db's equal: 0600 in a 0700 directory
    g: batch.gzipped,
    f: batch.frameCount,
    l: batch.logFrames,
    d: batch.dropCount,
    o: batch.lostCount,
    c: batch.createdAtMs,
  };
  const metaBytes = Buffer.from(JSON.stringify(meta), 'utf8');
  const payloadLength = META_LENGTH_BYTES + metaBytes.length + batch.body.length;
  if (payloadLength > MAX_PAYLOAD_BYTES) throw new RangeError(`spool: batch of ${payloadLength} bytes over ${MAX_PAYLOAD_BYTES}`);
  const record = Buffer.allocUnsafe(HEADER_BYTES + payloadLength);
  MAGIC.copy(record, 0);
  record.writeUInt32BE(payloadLength, LENGTH_AT);
  record[STATE_AT] = STATE_PENDING;
  record.writeUInt32BE(metaBytes.length, HEADER_BYTES);
  metaBytes.copy(record, HEADER_BYTES + META_LENGTH_BYTES);
  batch.body.copy(record, HEADER_BYTES + META_LENGTH_BYTES + metaBytes.length);
  record.writeUInt32BE(checksum(record.subarray(LENGTH_AT, CRC_AT), record.subarray(HEADER_BYTES)), CRC_AT);
  return record;
}

function checksum(lengthBytes: Buffer, payload: Buffer): number {
  // zlib is required at the first checksum, not with the module: a daemon without a spool, or one
  // idle since start-up, never needs it (~0.25 MB of RSS, docs/benchmarks.md, *Idle*).
  const { crc32 } = require('node:zlib') as typeof Zlib;
  return crc32(payload, crc32(lengthBytes)) >>> 0;
}

/** What a header says, or why it cannot be a record's. */
export type HeaderCheck =
  | { readonly ok: true; readonly payloadLength: number; readonly crc: number; readonly delivered: boolean }
  | { readonly ok: false; readonly problem: 'bad_magic' | 'bad_length' | 'bad_state' };

/** Checks the HEADER_BYTES at `at` of `buf` (the caller makes sure they are there). */
export function checkHeader(buf: Buffer, at = 0): HeaderCheck {
  if (buf.compare(MAGIC, 0, MAGIC.length, at, at + MAGIC.length) !== 0) return { ok: false, problem: 'bad_magic' };
  const payloadLength = buf.readUInt32BE(at + LENGTH_AT);
  if (payloadLength < META_LENGTH_BYTES || payloadLength > MAX_PAYLOAD_BYTES) return { ok: false, problem: 'bad_length' };
  const state = buf[at + STATE_AT];
  if (state !== STATE_PENDING && state !== STATE_DELIVERED) return { ok: false, problem: 'bad_state' };
  return { ok: true, payloadLength, crc: buf.readUInt32BE(at + CRC_AT), delivered: state === STATE_DELIVERED };
}

/** The batch in a payload whose header checked out, or undefined when the CRC or the meta is wrong. */
export function decodePayload(payloadLength: number, crc: number, payload: Buffer): SpooledBatch | undefined {
  if (payload.length !== payloadLength) return undefined;
  const lengthBytes = Buffer.allocUnsafe(4);
  lengthBytes.writeUInt32BE(payloadLength, 0);
  if (checksum(lengthBytes, payload) !== crc) return undefined;
  const metaLength = payload.readUInt32BE(0);
  if (META_LENGTH_BYTES + metaLength > payload.length) return undefined;
  const meta = parseMeta(payload.toString('utf8', META_LENGTH_BYTES, META_LENGTH_BYTES + metaLength));
  if (meta === undefined) return undefined;
  return {
    serve: {
      socketPath: meta.p,
      identity: meta.i,
      name: meta.n ?? undefined,
      target: { url: meta.u, user: meta.a, token: new Secret(meta.t) },
    },
    // A copy, not a view: the caller's read buffer may be reused for the next record.
    body: Buffer.from(payload.subarray(META_LENGTH_BYTES + metaLength)),
    gzipped: meta.g,
    frameCount: meta.f,
    logFrames: meta.l,
    dropCount: meta.d,
    lostCount: meta.o,
    createdAtMs: meta.c,
  };
}

function parseMeta(text: string): Meta | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const m = value as Record<string, unknown>;
  const str = (k: string): boolean => typeof m[k] === 'string';
  const count = (k: string): boolean => Number.isSafeInteger(m[k]) && (m[k] as number) >= 0;
  const ok =
    m.v === 2 &&
    str('p') &&
    str('i') &&
    (m.n === null || str('n')) &&
    str('u') &&
    str('a') &&
    str('t') &&
    typeof m.g === 'boolean' &&
    count('f') &&
    count('l') &&
    count('d') &&
    count('o') &&
    typeof m.c === 'number' &&
    Number.isFinite(m.c);
  return ok ? (m as unknown as Meta) : undefined;
}

/** True when the bytes from `at` to the end could be the start of a header cut short. */
export function startsLikeHeader(buf: Buffer, at: number): boolean {
  const n = Math.min(MAGIC.length, buf.length - at);
  return buf.compare(MAGIC, 0, n, at, at + n) === 0;
}

/** One intact record of a segment. */
export interface ScannedRecord {
  readonly offset: number; // of its header in the segment
  readonly bytes: number; // header + payload
  readonly delivered: boolean;
  readonly batch: SpooledBatch;
}

export type ScanStop = 'end' | 'torn' | 'corrupt';

export interface SegmentScan {
  readonly records: readonly ScannedRecord[];
  readonly validBytes: number; // the segment's intact prefix: truncate to this
  readonly skippedBytes: number; // what follows it, not trusted
  readonly stop: ScanStop; // end: all intact; torn: a record cut short by the end; corrupt: a record that does not check out
}

/**
 * Every intact record of a whole segment, in order, up to the first that is not. For tests and
 * small segments; store.ts walks a file with the same checks without holding all of it.
 */
export function scanSegment(segment: Buffer): SegmentScan {
  const records: ScannedRecord[] = [];
  let at = 0;
  const stopAt = (stop: ScanStop): SegmentScan => ({ records, validBytes: at, skippedBytes: segment.length - at, stop });
  while (at < segment.length) {
    if (segment.length - at < HEADER_BYTES) return stopAt(startsLikeHeader(segment, at) ? 'torn' : 'corrupt');
    const header = checkHeader(segment, at);
    if (!header.ok) return stopAt('corrupt');
    const end = at + HEADER_BYTES + header.payloadLength;
    if (end > segment.length) return stopAt('torn');
    const batch = decodePayload(header.payloadLength, header.crc, segment.subarray(at + HEADER_BYTES, end));
    if (batch === undefined) return stopAt('corrupt');
    records.push({ offset: at, bytes: end - at, delivered: header.delivered, batch });
    at = end;
  }
  return stopAt('end');
}
