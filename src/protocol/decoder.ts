// The protocol decoder the source runs on every connection (source/connection.ts): chunks in,
// typed messages out, ProtocolError thrown on the first violation. Free of RxJS: one call per
// read, no operator in between; marbles/protocol/ diagrams its timing through a test wrapper.
import { severityOf } from './elevel';
import { ProtocolError, plural } from './errors';
import { FrameReader, TYPE_I, TYPE_L, TYPE_V } from './deframe';
import type { IdentityMessage, LogfebeMessage, LogRecord, RecordMessage, VersionMessage } from './messages';
import { resolveProtocolOptions, type ProtocolOptions } from './options';
import type { Budget } from '../budget';
import { PayloadCursor } from './payload';
import { parseVersion } from './version';

// Where the connection is in its V, I, L* life.
const WANT_VERSION = 0;
const WANT_IDENTITY = 1;
const RECORDS = 2;
type Phase = typeof WANT_VERSION | typeof WANT_IDENTITY | typeof RECORDS;


export class LogfebeDecoder {
  private readonly frames: FrameReader;
  private readonly cursor = new PayloadCursor();
  private phase: Phase = WANT_VERSION;
  private major = 0; // from V; picks the ELevel table
  private out: LogfebeMessage[] = [];
  private failure: ProtocolError | undefined;

  /** `budget`: shared with the other connections' decoders, bounds what unfinished messages hold. */
  constructor(options: Partial<ProtocolOptions> = {}, budget?: Budget) {
    const { maxMessageBytes } = resolveProtocolOptions(options);
    this.frames = new FrameReader(maxMessageBytes, this.checkOrder, budget);
  }

  /**
   * Decode one chunk: every message it completes, in order (often none, often many).
   *
   * A violation throws ProtocolError, and the connection is then beyond repair: every later call
   * throws the same error. Records that the same chunk completed before the violation are still
   * worth delivering, so when there are any they are returned and the error waits for the next
   * call; `violation` tells the caller at once (the connection forwards them, then closes).
   */
  push(chunk: Buffer): LogfebeMessage[] {
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

  private readRecord(buf: Buffer, start: number, end: number): RecordMessage {
    const c = this.cursor;
    c.reset(buf, start, end, 'L');
    // Property initialisers run in source order, which is the wire order; one literal keeps a
    // single object shape for every record.
    const record: LogRecord = {
      LogTime: c.cstring('LogTime'),
      UserName: c.nullableCString('UserName'),
      DatabaseName: c.nullableCString('DatabaseName'),
      Pid: c.int32('Pid'),
      ClientAddr: c.nullableCString('ClientAddr'),
      SessionId: c.cstring('SessionId'),
      SeqNum: c.int64('SeqNum'),
      PsDisplay: c.nullableCString('PsDisplay'),
      SessionStart: c.cstring('SessionStart'),
      Vxid: c.nullableCString('Vxid'),
      Txid: c.uint64('Txid'),
      ELevel: c.int32('ELevel'),
      SQLState: c.nullableCString('SQLState'),
      ErrMessage: c.nullableCString('ErrMessage'),
      ErrDetail: c.nullableCString('ErrDetail'),
      ErrHint: c.nullableCString('ErrHint'),
      InternalQuery: c.nullableCString('InternalQuery'),
      InternalQueryPos: c.int32('InternalQueryPos'),
      ErrContext: c.nullableCString('ErrContext'),
      UserQuery: c.nullableCString('UserQuery'),
      UserQueryPos: c.int32('UserQueryPos'),
      FileErrPos: c.nullableCString('FileErrPos'),
      ApplicationName: c.nullableCString('ApplicationName'),
    };
    if (c.remaining !== 0) {
      throw new ProtocolError('LOGFEBE_TRAILING_BYTES', `${plural(c.remaining, 'byte')} left over after the L record`);
    }
    return { type: 'L', record, severity: severityOf(record.ELevel, this.major), ascii: c.allAscii };
  }
}
