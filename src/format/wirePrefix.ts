// The line prefix rendered from a WireRecord's bytes: the same template (parsePrefix, prefix.ts)
// and the same output as compilePrefix's renderer, for the byte path's records (valid UTF-8, an
// ASCII LogTime) and ASCII templates; padding counts UTF-16 code units, as padStart does.
import { isPlainCount, digitsOf, utf16Units, type ByteScratch } from './bytes';
import { parsePrefix, type PrefixPiece } from './prefix';
import {
  APPLICATION_NAME, CLIENT_ADDR, DATABASE_NAME, LOG_TIME, PS_DISPLAY, SESSION_ID, SESSION_START, SQL_STATE, USER_NAME, VXID,
  type WireRecord,
} from '../protocol/wireRecord';

/** Renders the prefix of `record` into `out` (from out.length on). */
export type WirePrefixRenderer = (record: WireRecord, out: ByteScratch) => void;

// What an escape prints, by kind.
const TEXT = 0; // a text field as it is
const HOST = 1; // ClientAddr without its `:port`
const SECONDS = 2; // LogTime without its milliseconds
const PID = 3;
const SEQ_NUM = 4;
const TXID = 5;
const NOTHING = 6; // not carried by logfebe-1
type Kind = typeof TEXT | typeof HOST | typeof SECONDS | typeof PID | typeof SEQ_NUM | typeof TXID | typeof NOTHING;

const ESCAPES: Readonly<Record<string, readonly [Kind, number]>> = {
  a: [TEXT, APPLICATION_NAME],
  u: [TEXT, USER_NAME],
  d: [TEXT, DATABASE_NAME],
  r: [TEXT, CLIENT_ADDR],
  h: [HOST, CLIENT_ADDR],
  p: [PID, 0],
  t: [SECONDS, LOG_TIME],
  m: [TEXT, LOG_TIME],
  l: [SEQ_NUM, 0],
  s: [TEXT, SESSION_START],
  c: [TEXT, SESSION_ID],
  v: [TEXT, VXID],
  x: [TXID, 0],
  e: [TEXT, SQL_STATE],
  i: [TEXT, PS_DISPLAY],
  b: [NOTHING, 0],
  n: [NOTHING, 0],
  P: [NOTHING, 0],
  Q: [NOTHING, 0],
};

interface Op {
  readonly literal: Buffer | undefined; // a literal, or else an escape:
  readonly kind: Kind;
  readonly field: number;
  readonly padding: number;
}

const compile = (pieces: readonly PrefixPiece[]): Op[] =>
  pieces.map((piece) => {
    if (typeof piece === 'string') return { literal: Buffer.from(piece, 'latin1'), kind: NOTHING, field: 0, padding: 0 };
    const [kind, field] = ESCAPES[piece.escape] as readonly [Kind, number];
    return { literal: undefined, kind, field, padding: piece.padding };
  });

/** The end of the host in ClientAddr `[start, end)`: before a `:port` of digits, as hostOf. */
function hostEnd(buf: Buffer, start: number, end: number): number {
  let colon = end - 1;
  while (colon >= start && buf[colon] !== 0x3a) colon--;
  if (colon <= start || colon === end - 1) return end;
  for (let i = colon + 1; i < end; i++) {
    const c = buf[i] as number;
    if (c < 0x30 || c > 0x39) return end; // not a port: leave it whole
  }
  return colon;
}

/** LogTime `[start, end)` has milliseconds at 19-22 (`.mmm`), which %t leaves out. */
const hasMillis = (buf: Buffer, start: number, end: number): boolean => end - start > 23 && buf[start + 19] === 0x2e;

const numberOf = (record: WireRecord, kind: Kind): number => (kind === PID ? record.Pid : kind === SEQ_NUM ? record.SeqNum : record.Txid);

/** What escape `op` prints for `record`, before padding, in UTF-16 code units (a string's length). */
function valueLength(op: Op, record: WireRecord): number {
  switch (op.kind) {
    case TEXT:
    case HOST:
    case SECONDS: {
      const start = record.start(op.field);
      if (start < 0) return 0;
      const buf = record.buf;
      let end = record.end(op.field);
      if (op.kind === HOST) end = hostEnd(buf, start, end);
      else if (op.kind === SECONDS && hasMillis(buf, start, end)) return end - start - 4; // LogTime is ASCII here
      return (record.nonAscii & (1 << op.field)) === 0 ? end - start : utf16Units(buf, start, end);
    }
    case NOTHING:
      return 0;
    default: {
      const v = numberOf(record, op.kind);
      return isPlainCount(v) ? digitsOf(v) : String(v).length;
    }
  }
}

function renderValue(op: Op, record: WireRecord, out: ByteScratch): void {
  switch (op.kind) {
    case TEXT:
    case HOST:
    case SECONDS: {
      const start = record.start(op.field);
      if (start < 0) return;
      const { buf } = record;
      const end = record.end(op.field);
      if (op.kind === TEXT) out.put(buf, start, end);
      else if (op.kind === HOST) out.put(buf, start, hostEnd(buf, start, end));
      else if (hasMillis(buf, start, end)) {
        out.put(buf, start, start + 19);
        out.put(buf, start + 23, end);
      } else out.put(buf, start, end);
      return;
    }
    case NOTHING:
      return;
    default:
      out.putNumber(numberOf(record, op.kind));
  }
}

function render(ops: readonly Op[], record: WireRecord, out: ByteScratch): void {
  for (const op of ops) {
    if (op.literal !== undefined) {
      out.putAll(op.literal);
      continue;
    }
    const padding = op.padding;
    if (padding === 0) {
      renderValue(op, record, out);
      continue;
    }
    const spaces = Math.abs(padding) - valueLength(op, record);
    if (padding > 0) out.pad(spaces);
    renderValue(op, record, out);
    if (padding < 0) out.pad(spaces);
  }
}

/** Compiles `template` (already validated by compilePrefix) for WireRecords. */
export function compileWirePrefix(template: string): WirePrefixRenderer {
  const { head, tail } = parsePrefix(template);
  const headOps = compile(head);
  if (tail === undefined) return (record, out) => render(headOps, record, out);
  const tailOps = compile(tail);
  return (record, out) => {
    render(headOps, record, out);
    if (record.start(USER_NAME) >= 0) render(tailOps, record, out);
  };
}
