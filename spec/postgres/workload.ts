// What the real-PostgreSQL test makes the server log: pgbench traffic, and SQL that produces each
// kind of record the collector must carry intact. Each entry also says how to find its
// record in the csvlog, so the run proves the record was made before proving it was shipped.
import type { CsvlogRecord } from './csvlog';

export const LONG_STATEMENT_BYTES = 60_000; // six frames' worth: cut at the 10,000-byte frame cap
export const MISSING_DATABASE = 'e2e_no_such_database';

// Multi-line, with 2-, 3- and 4-byte UTF-8 characters (a cut could fall inside any of them).
const UNICODE_LITERAL = "Grüße, Zoë — naïve café\n日本語のテキスト\n🐘 elephants: 🐘🐘\n  indented last line";

/** The error-making script, run by psql without ON_ERROR_STOP: every statement runs. */
export function errorScript(): string {
  return [
    'CREATE TABLE e2e_unique (x int PRIMARY KEY);',
    'INSERT INTO e2e_unique VALUES (1);',
    'INSERT INTO e2e_unique VALUES (1);', // unique violation, with DETAIL
    'SELECT 1/0;', // division by zero
    'SELEC 1\n  FROM nowhere;', // syntax error, the STATEMENT on two lines
    `SELECT '${UNICODE_LITERAL}' AS unicode_multi_line;`,
    `SELECT length('${'x'.repeat(LONG_STATEMENT_BYTES)}') AS long_statement;`,
    "DO $$ BEGIN RAISE WARNING 'e2e warning' USING DETAIL = 'e2e detail', HINT = 'e2e hint'; END $$;",
    'DROP TABLE e2e_unique;',
    '',
  ].join('\n');
}

export interface Expectation {
  readonly what: string;
  readonly matches: (r: CsvlogRecord) => boolean;
}

/** One csvlog record each of these must exist, or the workload did not do what it says. */
export const EXPECTED_RECORDS: readonly Expectation[] = [
  { what: 'division by zero (ERROR 22012)', matches: (r) => r.severity === 'ERROR' && r.sqlState === '22012' },
  {
    what: 'unique violation with DETAIL (ERROR 23505)',
    matches: (r) => r.severity === 'ERROR' && r.sqlState === '23505' && r.detail?.startsWith('Key (x)=(1)') === true,
  },
  { what: 'syntax error with a two-line STATEMENT (ERROR 42601)', matches: (r) => r.severity === 'ERROR' && r.sqlState === '42601' && r.query?.includes('\n') === true },
  { what: 'unicode multi-line literal', matches: (r) => r.message?.includes(UNICODE_LITERAL) === true },
  { what: `a ${LONG_STATEMENT_BYTES / 1000} kB statement`, matches: (r) => (r.message?.length ?? 0) > LONG_STATEMENT_BYTES },
  { what: 'missing database (FATAL 3D000)', matches: (r) => r.severity === 'FATAL' && r.sqlState === '3D000' && r.message?.includes(MISSING_DATABASE) === true },
  {
    what: 'RAISE WARNING with DETAIL and HINT',
    matches: (r) => r.severity === 'WARNING' && r.message === 'e2e warning' && r.detail === 'e2e detail' && r.hint === 'e2e hint',
  },
];
