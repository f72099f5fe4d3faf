// A record as the decoder leaves it: where each text field lies in the bytes it arrived in, and
// its numbers, without a string. Making a string of every field of every record, only for the
// formatter to write them back into bytes, was most of a record's cost (a quarter of the CPU in
// the garbage collector alone); the formatter copies these bytes straight into the request body
// (format/wireFrames.ts). The strings are made on the first read of `record`, for whoever wants
// them (the collector's record$, a record the byte path does not take).
//
// A WireRecord holds the Buffer of the read it came in (one per read, shared by its records,
// never reused by the socket), so it lives as long as the record does: the sink writes a read's
// records into a body as it arrives, and record$ observers get plain records (plainRecord).
import type { LogRecord, RecordMessage, Severity } from './messages';

// The text fields, in wire order: a field's index into the spans (start at 2i, end at 2i + 1).
export const LOG_TIME = 0;
export const USER_NAME = 1;
export const DATABASE_NAME = 2;
export const CLIENT_ADDR = 3;
export const SESSION_ID = 4;
export const PS_DISPLAY = 5;
export const SESSION_START = 6;
export const VXID = 7;
export const SQL_STATE = 8;
export const ERR_MESSAGE = 9;
export const ERR_DETAIL = 10;
export const ERR_HINT = 11;
export const INTERNAL_QUERY = 12;
export const ERR_CONTEXT = 13;
export const USER_QUERY = 14;
export const FILE_ERR_POS = 15;
export const APPLICATION_NAME = 16;
/** Int32 slots a record takes in the spans: a start and an end per text field. */
export const SPAN_SLOTS = 34;

export class WireRecord implements RecordMessage {
  readonly type = 'L' as const;
  #record: LogRecord | undefined;

  constructor(
    readonly buf: Buffer, // the bytes the record arrived in
    readonly spans: Int32Array, // shared by the records of one read: [start, end) of each text field in `buf`, start -1 when null
    readonly base: number, // this record's first slot in `spans`
    readonly newlines: number, // bit `field` set when that text field holds a `\n`
    readonly nonAscii: number, // bit `field` set when that text field holds a byte from 0x80 on (UTF-8, or not)
    readonly Pid: number,
    readonly SeqNum: number,
    readonly Txid: number,
    readonly ELevel: number,
    readonly InternalQueryPos: number,
    readonly UserQueryPos: number,
    readonly severity: Severity,
    readonly ascii: boolean, // every text byte below 0x80: a byte is a character
  ) {}

  /** Where text field `field` starts in `buf`, or -1 when it is null. */
  start(field: number): number {
    return this.spans[this.base + 2 * field] as number;
  }

  end(field: number): number {
    return this.spans[this.base + 2 * field + 1] as number;
  }

  /** The record with its strings, made on the first read. */
  get record(): LogRecord {
    this.#record ??= this.#strings();
    return this.#record;
  }

  #text(field: number): string | null {
    const start = this.start(field);
    if (start < 0) return null;
    // ASCII reads the same as latin1, which is a plain copy; anything else is UTF-8, with
    // invalid sequences as U+FFFD rather than an error: a mangled byte must not cost the record.
    return this.buf.toString(this.ascii ? 'latin1' : 'utf8', start, this.end(field));
  }

  #strings(): LogRecord {
    const n = this;
    const text = (field: number): string | null => this.#text(field);
    return {
      LogTime: text(LOG_TIME) as string,
      UserName: text(USER_NAME),
      DatabaseName: text(DATABASE_NAME),
      Pid: n.Pid,
      ClientAddr: text(CLIENT_ADDR),
      SessionId: text(SESSION_ID) as string,
      SeqNum: n.SeqNum,
      PsDisplay: text(PS_DISPLAY),
      SessionStart: text(SESSION_START) as string,
      Vxid: text(VXID),
      Txid: n.Txid,
      ELevel: n.ELevel,
      SQLState: text(SQL_STATE),
      ErrMessage: text(ERR_MESSAGE),
      ErrDetail: text(ERR_DETAIL),
      ErrHint: text(ERR_HINT),
      InternalQuery: text(INTERNAL_QUERY),
      InternalQueryPos: n.InternalQueryPos,
      ErrContext: text(ERR_CONTEXT),
      UserQuery: text(USER_QUERY),
      UserQueryPos: n.UserQueryPos,
      FileErrPos: text(FILE_ERR_POS),
      ApplicationName: text(APPLICATION_NAME),
    };
  }
}

/** `message` as a plain object with its strings, holding no bytes: what record$ observers get. */
export function plainRecord(message: RecordMessage): RecordMessage {
  if (!(message instanceof WireRecord)) return message;
  return { type: 'L', record: message.record, severity: message.severity, ascii: message.ascii };
}
