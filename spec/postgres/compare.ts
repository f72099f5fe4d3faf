// The two witnesses side by side: the csvlog PostgreSQL wrote and the frames logplex received.
// A csvlog record is keyed by (process_id, session_line_num); pg_logfebe numbers records in a
// process the same way (SeqNum), and the collector puts it in the `[NAME] [SEQ-N]` tag.
//
// Except in the postmaster: pg_logfebe counts every record its hook sees, csvlog only those it
// writes, and the postmaster's first records (`redirecting log output to logging collector
// process`) go to stderr before the logging collector runs. Seen with PostgreSQL 15.20: the
// postmaster's csvlog line L is its SeqNum L + 1. So the caller says how many records each process
// logged before csvlog took over (`earlier`), read from the server's stderr, and those are checked
// against that stderr instead.
import type { LogRecord } from '../../src/protocol/messages';
import { recordLines, tagName, taggedMessages } from '../../src/format/lines';
import type { CsvlogRecord } from './csvlog';
import { recordKey, type ShippedLog } from './shipped';

/**
 * The frames' MSGs a record should arrive as, laid out by the reference formatter (src/format/
 * lines.ts, which the format specs prove against the product's own layout) from the csvlog's
 * fields: what this proves is that every field of every record made the trip intact.
 */
export function expectedFrames(r: CsvlogRecord, seq: number, serveName: string, maxMessageBytes: number, linePrefix: (r: CsvlogRecord) => string): string[] {
  const record: LogRecord = {
    LogTime: r.logTime,
    UserName: r.userName,
    DatabaseName: r.databaseName,
    Pid: r.pid,
    ClientAddr: null,
    SessionId: '',
    SeqNum: seq,
    PsDisplay: null,
    SessionStart: '',
    Vxid: null,
    Txid: 0,
    ELevel: 0,
    SQLState: r.sqlState,
    ErrMessage: r.message,
    ErrDetail: r.detail,
    ErrHint: r.hint,
    InternalQuery: r.internalQuery,
    InternalQueryPos: -1,
    ErrContext: r.context,
    UserQuery: r.query,
    UserQueryPos: -1,
    FileErrPos: r.location,
    ApplicationName: r.applicationName,
  };
  return taggedMessages(recordLines(record, r.severity, linePrefix(r)), tagName(serveName), seq, maxMessageBytes);
}

export interface Comparison {
  readonly deliveredOnce: number; // records whose every frame arrived, once, as logged
  readonly missing: readonly string[]; // csvlog records with no frame at all (first few)
  readonly missingCount: number;
  readonly different: readonly string[]; // arrived, but not as the csvlog says (first few)
  readonly differentCount: number;
  readonly extra: readonly string[]; // shipped records the csvlog does not have (first few)
  readonly extraCount: number;
}

const KEEP = 10;

/** A record PostgreSQL logged before csvlog took over: on stderr, and through pg_logfebe. */
export interface EarlyRecord {
  readonly pid: number;
  readonly severity: string;
  readonly message: string; // its first line
}

export function compare(
  csvlog: readonly CsvlogRecord[],
  early: readonly EarlyRecord[],
  shipped: ShippedLog,
  expected: (r: CsvlogRecord, seq: number) => string[],
): Comparison {
  const seen = new Set<string>();
  const earlier = new Map<number, number>(); // pid → records logged before csvlog's line 1
  const missing: string[] = [];
  const different: string[] = [];
  let missingCount = 0;
  let differentCount = 0;
  for (const e of early) {
    const seq = (earlier.get(e.pid) ?? 0) + 1;
    earlier.set(e.pid, seq);
    const key = recordKey(e.pid, seq);
    seen.add(key);
    const first = shipped.records.get(key)?.frames[0];
    if (first === undefined) {
      missingCount++;
      if (missing.length < KEEP) missing.push(`pid ${e.pid} SeqNum ${seq} (on stderr, before csvlog) ${e.severity}: ${e.message}`);
    } else if (!first.endsWith(`${e.severity}:  ${e.message}`)) {
      differentCount++;
      if (different.length < KEEP) different.push(`pid ${e.pid} SeqNum ${seq}: stderr has ${e.severity}: ${e.message}, received ${JSON.stringify(first)}`);
    }
  }
  let deliveredOnce = early.length - missingCount - differentCount;
  const describe = (r: CsvlogRecord): string =>
    `pid ${r.pid} line ${r.sessionLine} (${r.backendType ?? '?'}) ${r.severity}: ${(r.message ?? '').slice(0, 120)}`;
  for (const r of csvlog) {
    const seq = r.sessionLine + (earlier.get(r.pid) ?? 0);
    const key = recordKey(r.pid, seq);
    if (seen.has(key)) {
      differentCount++;
      if (different.length < KEEP) different.push(`csvlog has (pid, line) twice: ${describe(r)}`);
      continue;
    }
    seen.add(key);
    const got = shipped.records.get(key);
    if (got === undefined) {
      missingCount++;
      if (missing.length < KEEP) missing.push(describe(r));
      continue;
    }
    const want = expected(r, seq);
    const firstDiff = want.findIndex((w, i) => got.frames[i] !== w);
    const diff = firstDiff >= 0 ? firstDiff : got.frames.length !== want.length ? want.length : -1;
    if (diff < 0) {
      deliveredOnce++;
      continue;
    }
    differentCount++;
    if (different.length < KEEP) {
      const show = (s: string | undefined): string => (s === undefined ? '(none)' : JSON.stringify(s.slice(0, 160)));
      different.push(`${describe(r)}\n      frame ${diff + 1}: expected ${show(want[diff])}\n      frame ${diff + 1}: received ${show(got.frames[diff])}`);
    }
  }
  const extra: string[] = [];
  let extraCount = 0;
  for (const [key, rec] of shipped.records) {
    if (seen.has(key)) continue;
    extraCount++;
    if (extra.length < KEEP) extra.push(`pid ${rec.pid} SeqNum ${rec.seq}: ${JSON.stringify((rec.frames[0] ?? '(no first frame)').slice(0, 160))}`);
  }
  return { deliveredOnce, missing, missingCount, different, differentCount, extra, extraCount };
}
