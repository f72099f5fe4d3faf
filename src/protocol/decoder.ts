// The protocol decoder the source runs on every connection (source/connection.ts): chunks in,
// typed messages out, ProtocolError thrown on the first violation. Free of RxJS: one call per
// read, no operator in between; marbles/protocol/ diagrams its timing through a test wrapper.
import { severityOf } from './elevel';
import { ProtocolError, plural } from './errors';
import { FrameReader, TYPE_I, TYPE_L, TYPE_V } from './deframe';
import type { IdentityMessage, LogfebeMessage, VersionMessage } from './messages';
import { resolveProtocolOptions, type ProtocolOptions } from './options';
import type { Budget } from '../budget';
import { PayloadCursor } from './payload';
import {
  APPLICATION_NAME, CLIENT_ADDR, DATABASE_NAME, ERR_CONTEXT, ERR_DETAIL, ERR_HINT, ERR_MESSAGE, FILE_ERR_POS, INTERNAL_QUERY,
  LOG_TIME, PS_DISPLAY, SESSION_ID, SESSION_START, SPAN_SLOTS, SQL_STATE, USER_NAME, USER_QUERY, VXID, WireRecord, plainRecord,
} from './wireRecord';
import { parseVersion } from './version';

// Where the connection is in its V, I, L* life.
const WANT_VERSION = 0;
const WANT_IDENTITY = 1;
const RECORDS = 2;
type Phase = typeof WANT_VERSION | typeof WANT_IDENTITY | typeof RECORDS;

// Records whose spans share one Int32Array: a busy read's records cost one array between them,
// and an array outlives its last record only by its own 4.4 KB.
const SPANS_PER_ARRAY = 32;
const NO_SPANS = new Int32Array(0);


export class LogfebeDecoder {
  private readonly frames: FrameReader;
  private readonly cursor = new PayloadCursor();
  private phase: Phase = WANT_VERSION;
  private major = 0; // from V; picks the ELevel table
  private out: LogfebeMessage[] = [];
  private spans = NO_SPANS; // where the next record's spans go, from nextSlot
  private nextSlot = 0;
  private failure: ProtocolError | undefined;

  /** `budget`: shared with the other connections' decoders, bounds what unfinished messages hold. */
  constructor(options: Partial<ProtocolOptions> = {}, budget?: Budget) {
    const { maxMessageBytes } = resolveProtocolOptions(options);
    this.frames = new FrameReader(maxMessageBytes, this.checkOrder, budget);
  }

  /**
   * Decode one chunk: every message it completes, in order (often none, often many), records as
   * plain objects with their strings (see wire() for the records as they lie in the bytes).
   *
   * A violation throws ProtocolError, and the connection is then beyond repair: every later call
   * throws the same error. Records that the same chunk completed before the violation are still
   * worth delivering, so when there are any they are returned and the error waits for the next
   * call; `violation` tells the caller at once (the connection forwards them, then closes).
   */
  push(chunk: Buffer): LogfebeMessage[] {
    const out = this.wire(chunk);
    for (let i = 0; i < out.length; i++) {
      const message = out[i] as LogfebeMessage;
      if (message.type === 'L') out[i] = plainRecord(message);
    }
    return out;
  }

  /**
   * push(), with each record a WireRecord: its text fields left where they lie in `chunk` (which
   * it then holds), its strings made only when its `record` is read. What the source runs.
   */
  wire(chunk: Buffer): LogfebeMessage[] {
    if (this.failure !== undefined) throw this.failure;
    const out: LogfebeMessage[] = [];
    this.out = out;
    try {
      this.frames.push(chunk, this.onFrame);
    } catch (error) {
      this.frames.discard(); // beyond repair: what it held goes back to the budget
      if (!(error instanceof ProtocolError)) throw error;
      this.failure = error;
      if (out.length === 0) throw error;
    } finally {
      this.cursor.release();
      this.out = [];
    }
    return out;
  }

  /** The violation that ended this connection, if any; set as soon as it is found. */
  get violation(): ProtocolError | undefined {
    return this.failure;
  }

  /** The stream ended: throws LOGFEBE_TRUNCATED_MESSAGE if it stopped inside a message. */
  end(): void {
    if (this.failure !== undefined) throw this.failure;
    this.frames.end();
  }

  /** Bytes received of a message not yet complete. */
  get bufferedBytes(): number {
    return this.frames.bufferedBytes;
  }

  /** The connection is gone: whatever an unfinished message held goes back to the budget. */
  discard(): void {
    this.frames.discard();
  }

  // Runs on each header, so a misordered message is refused before its payload is buffered.
  private readonly checkOrder = (type: number): void => {
    if (type === TYPE_L) {
      if (this.phase === RECORDS) return;
      throw new ProtocolError('LOGFEBE_BAD_ORDER', `L record before the ${this.phase === WANT_VERSION ? 'V' : 'I'} message`);
    }
    if (type === TYPE_V && this.phase !== WANT_VERSION) {
      throw new ProtocolError('LOGFEBE_BAD_ORDER', 'second V message (V comes once, first)');
    }
    if (type === TYPE_I && this.phase !== WANT_IDENTITY) {
      throw new ProtocolError(
        'LOGFEBE_BAD_ORDER',
        this.phase === WANT_VERSION ? 'I message before the V message' : 'second I message (I comes once, after V)',
      );
    }
  };

  private readonly onFrame = (type: number, buf: Buffer, start: number, end: number): void => {
    // checkOrder has already matched the type against the phase.
    if (type === TYPE_L) this.out.push(this.readRecord(buf, start, end));
    else if (type === TYPE_V) this.out.push(this.readVersion(buf, start, end));
    else this.out.push(this.readIdentity(buf, start, end));
  };

  private readVersion(buf: Buffer, start: number, end: number): VersionMessage {
    const cursor = this.cursor;
    cursor.reset(buf, start, end, 'V');
    const version = cursor.cstring('Version');
    if (cursor.remaining !== 0) {
      throw new ProtocolError('LOGFEBE_TRAILING_BYTES', `${plural(cursor.remaining, 'byte')} left over after the V message`);
    }
    const message = parseVersion(version);
    this.major = message.major;
    this.phase = WANT_IDENTITY;
    return message;
  }

  private readIdentity(buf: Buffer, start: number, end: number): IdentityMessage {
    const cursor = this.cursor;
    cursor.reset(buf, start, end, 'I');
    const identity = cursor.cstring('Identity');
    // Whatever follows the identity's NUL is ignored: real pg_logfebe sizes the payload with
    // `strlen + sizeof '\0'` (an int in C), so it copies 3 bytes past the terminator, and those
    // are whatever lay next in the server's memory (`00 7f 00` from PostgreSQL 15.18). Rejecting
    // them rejected real servers (fixture 30-identity-trailing-bytes).
    this.phase = RECORDS;
    return { type: 'I', identity };
  }

  private readRecord(buf: Buffer, start: number, end: number): WireRecord {
    const c = this.cursor;
    c.reset(buf, start, end, 'L');
    let spans = this.spans;
    let base = this.nextSlot;
    if (base + SPAN_SLOTS > spans.length) {
      // A new array, not a bigger copy: the records already out keep the one they point into.
      spans = new Int32Array(SPAN_SLOTS * SPANS_PER_ARRAY);
      this.spans = spans;
      base = 0;
    }
    // In wire order, which is the order of the field indices.
    c.span('LogTime', LOG_TIME, false, spans, base);
    c.span('UserName', USER_NAME, true, spans, base);
    c.span('DatabaseName', DATABASE_NAME, true, spans, base);
    const pid = c.int32('Pid');
    c.span('ClientAddr', CLIENT_ADDR, true, spans, base);
    c.span('SessionId', SESSION_ID, false, spans, base);
    const seqNum = c.int64('SeqNum');
    c.span('PsDisplay', PS_DISPLAY, true, spans, base);
    c.span('SessionStart', SESSION_START, false, spans, base);
    c.span('Vxid', VXID, true, spans, base);
    const txid = c.uint64('Txid');
    const elevel = c.int32('ELevel');
    c.span('SQLState', SQL_STATE, true, spans, base);
    c.span('ErrMessage', ERR_MESSAGE, true, spans, base);
    c.span('ErrDetail', ERR_DETAIL, true, spans, base);
    c.span('ErrHint', ERR_HINT, true, spans, base);
    c.span('InternalQuery', INTERNAL_QUERY, true, spans, base);
    const internalQueryPos = c.int32('InternalQueryPos');
    c.span('ErrContext', ERR_CONTEXT, true, spans, base);
    c.span('UserQuery', USER_QUERY, true, spans, base);
    const userQueryPos = c.int32('UserQueryPos');
    c.span('FileErrPos', FILE_ERR_POS, true, spans, base);
    c.span('ApplicationName', APPLICATION_NAME, true, spans, base);
    if (c.remaining !== 0) {
      throw new ProtocolError('LOGFEBE_TRAILING_BYTES', `${plural(c.remaining, 'byte')} left over after the L record`);
    }
    this.nextSlot = base + SPAN_SLOTS;
    const severity = severityOf(elevel, this.major);
    return new WireRecord(buf, spans, base, c.newlines, c.nonAscii, pid, seqNum, txid, elevel, internalQueryPos, userQueryPos, severity, c.allAscii);
  }
}
