// PostgreSQL's csvlog read back as records: the other witness of what the server logged, next to
// what the collector shipped. PostgreSQL writes it with write_csvlog() (src/backend/utils/error/
// csvlog.c): one CSV row per record, every text field quoted with `"` doubled inside, newlines kept
// inside the quotes, and a NULL written as nothing at all (unquoted), so `""` and `` differ.

/** One field as written: null for a NULL (nothing between the commas), else its text. */
export type CsvField = string | null;

export class CsvlogError extends Error {
  override readonly name = 'CsvlogError';
}

/** RFC 4180 rows; quoted fields may hold commas, doubled quotes and newlines. */
export function parseCsv(text: string): CsvField[][] {
  const rows: CsvField[][] = [];
  let row: CsvField[] = [];
  let i = 0;
  const n = text.length;
  if (n === 0) return rows;
  for (;;) {
    // At the start of a field.
    let field: CsvField;
    if (text.charCodeAt(i) === 0x22) {
      let value = '';
      let from = i + 1;
      for (;;) {
        const q = text.indexOf('"', from);
        if (q < 0) throw new CsvlogError(`unterminated quoted field in row ${rows.length + 1}`);
        value += text.slice(from, q);
        if (text.charCodeAt(q + 1) === 0x22) {
          value += '"';
          from = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      field = value;
    } else {
      let end = i;
      while (end < n) {
        const c = text.charCodeAt(end);
        if (c === 0x2c || c === 0x0a || c === 0x0d) break;
        end++;
      }
      field = end === i ? null : text.slice(i, end);
      i = end;
    }
    row.push(field);
    const c = text.charCodeAt(i);
    if (c === 0x2c) {
      i++;
      continue;
    }
    if (i < n && c !== 0x0a && c !== 0x0d) throw new CsvlogError(`stray character after a quoted field in row ${rows.length + 1}`);
    rows.push(row);
    row = [];
    if (c === 0x0d && text.charCodeAt(i + 1) === 0x0a) i++;
    i++;
    if (i >= n) return rows;
  }
}

/** The csvlog columns these tests read (PostgreSQL 13-16 order; 15 writes 26 columns). */
export interface CsvlogRecord {
  readonly logTime: string;
  readonly userName: string | null;
  readonly databaseName: string | null;
  readonly pid: number;
  readonly sessionLine: number; // the record's number in its process, from 1: pg_logfebe's SeqNum
  readonly severity: string; // ERROR, LOG, ...
  readonly sqlState: string; // 00000 for LOG
  readonly message: string | null;
  readonly detail: string | null;
  readonly hint: string | null;
  readonly internalQuery: string | null;
  readonly context: string | null;
  readonly query: string | null;
  readonly location: string | null; // only with log_error_verbosity = verbose
  readonly applicationName: string | null;
  readonly backendType: string | null;
}

const COLUMNS = {
  logTime: 0,
  userName: 1,
  databaseName: 2,
  pid: 3,
  sessionLine: 6,
  severity: 11,
  sqlState: 12,
  message: 13,
  detail: 14,
  hint: 15,
  internalQuery: 16,
  context: 18,
  query: 19,
  location: 21,
  applicationName: 22,
  backendType: 23,
} as const;
const MIN_COLUMNS = COLUMNS.backendType + 1;

/** Rows of a csvlog file as records; throws on a row that is not one (too short, bad numbers). */
export function parseCsvlog(text: string): CsvlogRecord[] {
  return parseCsv(text).map((row, index) => {
    if (row.length < MIN_COLUMNS) throw new CsvlogError(`row ${index + 1} has ${row.length} columns, expected at least ${MIN_COLUMNS}`);
    const at = (c: number): string | null => row[c] ?? null;
    const required = (c: number): string => {
      const v = at(c);
      if (v === null) throw new CsvlogError(`row ${index + 1}: column ${c + 1} is empty`);
      return v;
    };
    const integer = (c: number): number => {
      const v = Number(required(c));
      if (!Number.isSafeInteger(v)) throw new CsvlogError(`row ${index + 1}: column ${c + 1} is not an integer`);
      return v;
    };
    return {
      logTime: required(COLUMNS.logTime),
      userName: at(COLUMNS.userName),
      databaseName: at(COLUMNS.databaseName),
      pid: integer(COLUMNS.pid),
      sessionLine: integer(COLUMNS.sessionLine),
      severity: required(COLUMNS.severity),
      sqlState: required(COLUMNS.sqlState),
      message: at(COLUMNS.message),
      detail: at(COLUMNS.detail),
      hint: at(COLUMNS.hint),
      internalQuery: at(COLUMNS.internalQuery),
      context: at(COLUMNS.context),
      query: at(COLUMNS.query),
      location: at(COLUMNS.location),
      applicationName: at(COLUMNS.applicationName),
      backendType: at(COLUMNS.backendType),
    };
  });
}

const SEVERITIES = new Set(['DEBUG1', 'DEBUG2', 'DEBUG3', 'DEBUG4', 'DEBUG5', 'LOG', 'INFO', 'NOTICE', 'WARNING', 'ERROR', 'FATAL', 'PANIC']);
// PostgreSQL 15's default log_line_prefix, `%m [%p] `: `2026-12-01 13:39:56.540 UTC [19322] LOG:  text`.
const STDERR_LINE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \S+ \[(\d+)\] ([A-Z0-9]+):  (.*)$/;

/**
 * The records of a server's stderr log (what pg_ctl -l caught before the logging collector took
 * over): one per line whose level is a severity; DETAIL, HINT and the like belong to the record
 * before them and are not counted.
 */
export function parseStderrLog(text: string): { pid: number; severity: string; message: string }[] {
  const out: { pid: number; severity: string; message: string }[] = [];
  for (const line of text.split('\n')) {
    const m = STDERR_LINE.exec(line);
    if (m !== null && SEVERITIES.has(m[2] as string)) out.push({ pid: Number(m[1]), severity: m[2] as string, message: m[3] as string });
  }
  return out;
}
