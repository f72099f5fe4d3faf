// A plausible log record for tests that need one and care about a few fields: pass those.
import type { LogRecord } from '../../src/protocol/messages';

export function aRecord(overrides: Partial<LogRecord> = {}): LogRecord {
  return {
    LogTime: '2026-11-25 01:43:51.596 UTC',
    UserName: 'alice',
    DatabaseName: 'shop',
    Pid: 4517,
    ClientAddr: '10.0.0.5:51234',
    SessionId: '6b0640f6.11a5',
    SeqNum: 5,
    PsDisplay: 'INSERT',
    SessionStart: '2026-11-25 01:40:00 UTC',
    Vxid: '3/42',
    Txid: 736,
    ELevel: 15,
    SQLState: '00000',
    ErrMessage: 'statement: select 1',
    ErrDetail: null,
    ErrHint: null,
    InternalQuery: null,
    InternalQueryPos: -1,
    ErrContext: null,
    UserQuery: null,
    UserQueryPos: -1,
    FileErrPos: null,
    ApplicationName: 'psql',
    ...overrides,
  };
}
