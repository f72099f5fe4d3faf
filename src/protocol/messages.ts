// What a logfebe-1 connection carries, decoded (docs/logfebe-protocol.md).
// Field names are PostgreSQL's csvlog column names, as in the spec and the fixtures' JSON.

/** One log record (`L` message). Nullable protocol fields (`*CString`) are `null` when absent. */
export interface LogRecord {
  readonly LogTime: string; // `%Y-%m-%d %H:%M:%S.mmm %Z` in the server's log_timezone
  readonly UserName: string | null; // null for background processes
  readonly DatabaseName: string | null;
  readonly Pid: number;
  readonly ClientAddr: string | null; // `host:port` or `[local]`
  readonly SessionId: string; // `%lx.%x` of start time and pid
  readonly SeqNum: number; // per-process line number from 1 (int64 on the wire; exact below 2^53)
  readonly PsDisplay: string | null; // command tag
  readonly SessionStart: string;
  readonly Vxid: string | null;
  readonly Txid: number; // 0 when none (uint64 on the wire; xids fit 2^53)
  readonly ELevel: number; // raw severity number; see severityOf()
  readonly SQLState: string | null;
  readonly ErrMessage: string | null;
  readonly ErrDetail: string | null;
  readonly ErrHint: string | null;
  readonly InternalQuery: string | null;
  readonly InternalQueryPos: number; // -1 when absent
  readonly ErrContext: string | null;
  readonly UserQuery: string | null;
  readonly UserQueryPos: number; // -1 when absent
  readonly FileErrPos: string | null; // `func, file.c:line` with verbose errors
  readonly ApplicationName: string | null;
}

/** The severity names PostgreSQL itself prints (error_severity() in elog.c). */
export type SeverityName = 'DEBUG' | 'LOG' | 'INFO' | 'NOTICE' | 'WARNING' | 'ERROR' | 'FATAL' | 'PANIC';

export interface Severity {
  readonly name: SeverityName; // drives the syslog priority; unknown levels count as LOG
  readonly label: string; // what the line shows: the name, or `LOG (elevel 42)` for an unknown number
}

/** `V`: the first message. */
export interface VersionMessage {
  readonly type: 'V';
  readonly version: string; // the whole CString, e.g. `PG-15.20 (Debian 15.20-0+deb12u1)/logfebe-1`
  readonly serverVersion: string; // between `PG-` and `/logfebe-1`, e.g. `15.20 (Debian 15.20-0+deb12u1)`
  readonly major: number; // 9.4 before PostgreSQL 10, 15 from 10 on: decides how ELevel reads
}

/** `I`: the second message. */
export interface IdentityMessage {
  readonly type: 'I';
  readonly identity: string; // logfebe.identity, may be empty
}

/** `L`: a log record, with its severity already resolved for the connection's server version. */
export interface RecordMessage {
  readonly type: 'L';
  readonly record: LogRecord;
  readonly severity: Severity;
  /**
   * True when the decoder saw every text field of the record in ASCII, so each character is one
   * UTF-8 byte: the formatter then counts characters as bytes without looking. False or absent
   * (a record built by hand): not known, and the formatter checks for itself.
   */
  readonly ascii?: boolean;
}

export type LogfebeMessage = VersionMessage | IdentityMessage | RecordMessage;
