// log_line_prefix templates (PostgreSQL's syntax, so operators reuse what they know), compiled
// once into a function of the record: the template is parsed at startup, never per record.
//
// Decisions where PostgreSQL and our records differ:
// - Escapes PostgreSQL knows but pg_logfebe does not send (%b backend type, %n epoch, %P parallel
//   leader, %Q query id) print nothing, like a null field.
// - Any other escape, and a lone `%` at the end, is refused when the template is compiled.
//   PostgreSQL silently drops them; a template copied from postgresql.conf never has them, so a
//   refusal can only point at a typo (`%U`) that would otherwise vanish unnoticed.
// - %r prints ClientAddr as pg_logfebe sent it, `host:port` (PostgreSQL's own %r says
//   `host(port)`); %h is the same without `:port`; `[local]` stays `[local]` in both.
// - %q stops the prefix for records without a session, which the spec defines as UserName null.
// - Padding (`%-10u`, `%10p`) works as in PostgreSQL: positive right-aligns, negative left-aligns,
//   counted in characters; a null field with padding prints the padding's spaces, as PostgreSQL.
import type { LogRecord } from '../protocol/messages';
import { FormatError } from './errors';

export type PrefixRenderer = (record: LogRecord) => string;

type Field = (r: LogRecord) => string | null;

/** `2026-11-25 01:43:51.596 UTC` → `2026-11-25 01:43:51 UTC`; anything unexpected unchanged. */
function withoutMilliseconds(logTime: string): string {
  return logTime.length > 23 && logTime.charCodeAt(19) === 0x2e /* . */ ? logTime.slice(0, 19) + logTime.slice(23) : logTime;
}

/** `10.0.0.5:51234` → `10.0.0.5`, `::1:51234` → `::1`, `[local]` → `[local]`. */
export function hostOf(clientAddr: string | null): string | null {
  if (clientAddr === null) return null;
  const colon = clientAddr.lastIndexOf(':');
  if (colon <= 0 || colon === clientAddr.length - 1) return clientAddr;
  for (let i = colon + 1; i < clientAddr.length; i++) {
    const c = clientAddr.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return clientAddr; // not a port: leave it whole
  }
  return clientAddr.slice(0, colon);
}

const NOTHING: Field = () => null;

const FIELDS: Readonly<Record<string, Field>> = {
  a: (r) => r.ApplicationName,
  u: (r) => r.UserName,
  d: (r) => r.DatabaseName,
  r: (r) => r.ClientAddr,
  h: (r) => hostOf(r.ClientAddr),
  p: (r) => String(r.Pid),
  t: (r) => withoutMilliseconds(r.LogTime),
  m: (r) => r.LogTime,
  l: (r) => String(r.SeqNum),
  s: (r) => r.SessionStart,
  c: (r) => r.SessionId,
  v: (r) => r.Vxid,
  x: (r) => String(r.Txid), // PostgreSQL prints 0 when there is no xid, and so do we
  e: (r) => r.SQLState,
  i: (r) => r.PsDisplay,
  // Known to PostgreSQL, not carried by logfebe-1: print nothing rather than refuse.
  b: NOTHING,
  n: NOTHING,
  P: NOTHING,
  Q: NOTHING,
};

function padded(field: Field, padding: number): Field {
  const width = Math.abs(padding);
  return (r) => {
    const value = field(r) ?? '';
    return padding > 0 ? value.padStart(width) : value.padEnd(width);
  };
}

type Piece = string | Field;

function renderer(pieces: readonly Piece[]): (r: LogRecord) => string {
  // The common templates have one or two pieces; the loop is still cheap for longer ones.
  if (pieces.length === 0) return () => '';
  if (pieces.length === 1) {
    const only = pieces[0] as Piece;
    if (typeof only === 'string') return () => only;
    return (r) => only(r) ?? '';
  }
  return (r) => {
    let out = '';
    for (const piece of pieces) out += typeof piece === 'string' ? piece : (piece(r) ?? '');
    return out;
  };
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

/** A piece of a parsed template: literal text, or an escape (`u` of `%u`) with its padding. */
export type PrefixPiece = string | { readonly escape: string; readonly padding: number };

/** A template parsed: the pieces before %q (every record), and after it (records with a session). */
export interface ParsedPrefix {
  readonly head: readonly PrefixPiece[];
  readonly tail: readonly PrefixPiece[] | undefined; // undefined without %q
}

/** Whether `escape` is one compilePrefix knows (the byte renderer knows the same ones). */
export const isPrefixEscape = (escape: string): boolean => Object.prototype.hasOwnProperty.call(FIELDS, escape);

/** Parses a log_line_prefix template; throws FormatError('FORMAT_BAD_PREFIX') saying where. */
export function parsePrefix(template: string): ParsedPrefix {
  const bad = (why: string): never => {
    throw new FormatError('FORMAT_BAD_PREFIX', `format.linePrefix ${JSON.stringify(template)}: ${why}`);
  };
  if (/[\r\n]/.test(template)) bad('must not contain a line break (every line of a record is one frame)');

  const head: PrefixPiece[] = []; // before %q: every record
  const tail: PrefixPiece[] = []; // after %q: only records with a session
  let pieces = head;
  let literal = '';
  const flush = (): void => {
    if (literal !== '') pieces.push(literal);
    literal = '';
  };

  for (let i = 0; i < template.length; i++) {
    const c = template[i] as string;
    if (c !== '%') {
      literal += c;
      continue;
    }
    const at = i;
    i++;
    // Padding, as PostgreSQL reads it: an optional `-` counts only when a digit follows.
    let padding = 0;
    if (template[i] === '-' ? isDigit(template[i + 1]) : isDigit(template[i])) {
      const sign = template[i] === '-' ? -1 : 1;
      if (sign < 0) i++;
      let width = 0;
      while (isDigit(template[i])) width = width * 10 + Number(template[i++]);
      padding = sign * width;
    }
    const escape = template[i];
    if (escape === undefined) return bad(`a lone % at position ${at} ends the template (write %% for a percent sign)`);
    if (escape === '%') {
      literal += '%';
    } else if (escape === 'q') {
      if (pieces === tail) bad(`%q appears twice (position ${at})`);
      flush();
      pieces = tail;
    } else {
      if (!isPrefixEscape(escape)) return bad(`unknown escape %${escape} at position ${at} (see log_line_prefix in PostgreSQL's manual)`);
      flush();
      pieces.push({ escape, padding });
    }
  }
  flush();
  return { head, tail: pieces === tail ? tail : undefined };
}

/** Compiles a log_line_prefix template; throws FormatError('FORMAT_BAD_PREFIX') saying where. */
export function compilePrefix(template: string): PrefixRenderer {
  const { head, tail } = parsePrefix(template);
  const fields = (pieces: readonly PrefixPiece[]): Piece[] =>
    pieces.map((piece) => {
      if (typeof piece === 'string') return piece;
      const field = FIELDS[piece.escape] as Field;
      return piece.padding === 0 ? field : padded(field, piece.padding);
    });
  const renderHead = renderer(fields(head));
  if (tail === undefined) return renderHead;
  const renderTail = renderer(fields(tail));
  return (r) => (r.UserName === null ? renderHead(r) : renderHead(r) + renderTail(r));
}
