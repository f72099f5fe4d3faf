// pgBadger as an outside oracle: it reads a log (our frames as `heroku logs` prints them with
// `--format logplex`, PostgreSQL's own csvlog with `--format csv`) and its JSON report counts the
// errors and queries it found. Used by spec/format/pgbadger.spec.ts and the real-PostgreSQL test.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PgBadgerReport {
  readonly overall_stat: { readonly queries_number: number; readonly errors_number: number };
  readonly logs_type: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly error_info: Readonly<Record<string, Readonly<Record<string, PgBadgerErrorInfo>>>>;
}

/** One error pattern (`ERROR:  syntax error at or near "..."`) and what pgBadger kept of each occurrence. */
export interface PgBadgerErrorInfo {
  readonly db: readonly string[];
  readonly count?: number;
  readonly error?: readonly string[]; // each occurrence's message, unnormalized
  readonly detail?: readonly string[];
  readonly hint?: readonly string[];
  readonly statement?: readonly string[];
}

/** Runs pgBadger over one log file and returns its JSON report; rejects if it fails. */
export function pgbadgerReport(pgbadger: string, input: string, format: 'logplex' | 'csv', timeoutMs = 60_000): Promise<PgBadgerReport> {
  const dir = mkdtempSync(join(tmpdir(), 'pgbadger-'));
  const output = join(dir, 'report.json');
  return new Promise<PgBadgerReport>((resolve, reject) => {
    execFile(
      pgbadger,
      // Its own pid directory: by default every pgBadger on the machine shares /tmp/pgbadger.pid and
      // refuses to start (exit 3) while another one runs, so concurrent runs failed at random.
      ['--format', format, '--quiet', '--jobs', '1', '--pid-dir', dir, '--outfile', output, input],
      { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 << 20 },
      (err, _stdout, stderr) => {
        if (err !== null) reject(new Error(`pgbadger --format ${format} failed (exit ${String(err.code)}, signal ${String(err.signal)}): ${stderr}`));
        else {
          try {
            resolve(JSON.parse(readFileSync(output, 'utf8')) as PgBadgerReport);
          } catch (e) {
            // It exits 0 and writes nothing when it found no log line it could read.
            reject(new Error(`pgbadger --format ${format} wrote no readable report for ${input}: ${e instanceof Error ? e.message : String(e)}`));
          }
        }
      },
    );
  }).finally(() => rmSync(dir, { recursive: true, force: true }));
}
