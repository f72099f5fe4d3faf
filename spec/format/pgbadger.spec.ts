// The reader the spec names: pgBadger's `logplex` input, fed every fixture as `heroku logs -p
// postgres` would print our frames (`TIMESTAMP app[postgres.PID]: MSG`; logplex shows the token's
// name, `app` for Heroku Postgres, in place of APP-NAME). Its report must count the errors and
// statements PostgreSQL produced.
//
// What pgBadger 12 parses (read from /usr/bin/pgbadger, `$fmt eq 'logplex'`):
//   ^Y-M-DTh:m:s(.frac)?±hh:mm  app[postgres.PID]:? [NAME] [SEQ-N] <prefix> LEVEL:  text
// with LEVEL one of LOG WARNING ERROR FATAL PANIC DETAIL STATEMENT HINT CONTEXT LOCATION. NAME is
// taken as the database name. NOTICE and QUERY lines are not levels it knows: they are handled as
// continuation lines of the previous entry (and its continuation regex has no fractional seconds,
// so it appends them whole). `logs_type` in its JSON counts the lines of each known level, and
// `queries_number` counts each `statement:` and each `duration:` line as a query.
//
// Needs pgBadger (Debian package `pgbadger`). Without it this fails, unless PGBADGER_OPTIONAL=1.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SeverityName } from '../../src/protocol/messages';
import { parseLogplexBody } from '../../src/tools/logplexBody';
import { loadFixtures } from '../support/fixtures';
import { pgbadgerReport, type PgBadgerReport } from '../support/pgbadger';
import { fixtureRecordsOf, frameFormatter, pg15Severity, serveNamed, sourced } from './records';

const PGBADGER = process.env.PGBADGER ?? 'pgbadger';
const optional = process.env.PGBADGER_OPTIONAL === '1';
const installed = spawnSync(PGBADGER, ['--version'], { encoding: 'utf8' }).status === 0;

/** The fixtures as `heroku logs -p postgres` prints them, after a trip through a logplex body. */
function herokuLogs(): string {
  const format = frameFormatter();
  const frames = loadFixtures().flatMap((f) => fixtureRecordsOf(f).flatMap((r) => format(sourced(r, { serve: serveNamed(undefined) }))));
  return parseLogplexBody(Buffer.concat(frames))
    .map((f) => `${f.timestamp} app[${f.procId}]: ${f.msg}\n`)
    .join('');
}

/** pgBadger's report on `log`, written to a file first. */
async function reportOn(log: string): Promise<PgBadgerReport> {
  const dir = mkdtempSync(join(tmpdir(), 'pgbadger-in-'));
  try {
    const input = join(dir, 'heroku.log');
    writeFileSync(input, log);
    return await pgbadgerReport(PGBADGER, input, 'logplex');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// What the fixtures hold, counted from their JSON.
const records = loadFixtures().flatMap(fixtureRecordsOf);
const bySeverity = (...names: SeverityName[]): number => records.filter((r) => names.includes(pg15Severity(r.ELevel).name)).length;
const withField = (field: 'ErrDetail' | 'ErrHint' | 'ErrContext' | 'UserQuery'): number => records.filter((r) => r[field] !== null).length;
const messagesStarting = (start: string): number => records.filter((r) => r.ErrMessage?.startsWith(start) === true).length;
// pgBadger 12 files these LOG messages under errors too (change_log_level); the fixtures have one.
const logsPgBadgerCountsAsErrors = records.filter((r) => pg15Severity(r.ELevel).name === 'LOG' && /database system was/.test(r.ErrMessage ?? '')).length;

const describeWithPgBadger = installed ? describe : optional ? describe.skip : null;

if (describeWithPgBadger === null) {
  describe('pgBadger', () => {
    it('is installed', () => {
      throw new Error(
        `pgBadger not found (tried ${JSON.stringify(PGBADGER)}). Install it: apt-get install -y pgbadger ` +
          '(Debian/Ubuntu), or set PGBADGER=/path/to/pgbadger; PGBADGER_OPTIONAL=1 skips these tests.',
      );
    });
  });
} else {
  describeWithPgBadger('pgBadger -f logplex on every fixture, as heroku logs prints them', () => {
    let report: PgBadgerReport;
    beforeAll(async () => {
      report = await reportOn(herokuLogs());
    });

    it('the fixtures are what this spec assumes', () => {
      expect(bySeverity('ERROR', 'FATAL', 'PANIC')).toBe(5);
      expect(messagesStarting('statement: ')).toBe(68);
    });

    it('counts as many ERROR, FATAL and PANIC lines as there are such records', () => {
      const levels = report.logs_type.postgres ?? {};
      expect((levels.ERROR ?? 0) + (levels.FATAL ?? 0) + (levels.PANIC ?? 0)).toBe(bySeverity('ERROR', 'FATAL', 'PANIC'));
    });

    it('reads every line of a level it knows as that level', () => {
      expect(report.logs_type.postgres).toEqual({
        LOG: bySeverity('LOG'),
        WARNING: bySeverity('WARNING'),
        ERROR: bySeverity('ERROR'),
        FATAL: bySeverity('FATAL'),
        DETAIL: withField('ErrDetail'),
        HINT: withField('ErrHint'),
        CONTEXT: withField('ErrContext'),
        STATEMENT: withField('UserQuery'),
      });
    });

    it('counts the errors: warnings and worse, and the LOG events it files with them', () => {
      expect(report.overall_stat.errors_number).toBe(bySeverity('WARNING', 'ERROR', 'FATAL', 'PANIC') + logsPgBadgerCountsAsErrors);
    });

    it('counts every statement and every duration as a query', () => {
      expect(report.overall_stat.queries_number).toBe(messagesStarting('statement: ') + messagesStarting('duration: '));
    });

    it('takes the NAME tag as the database', () => {
      const dbs = Object.values(report.error_info.postgres ?? {}).flatMap((e) => e.db);
      expect(new Set(dbs)).toEqual(new Set(['DATABASE']));
    });
  });
}
