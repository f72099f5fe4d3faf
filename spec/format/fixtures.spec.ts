// Every shared pg15 capture rendered to exactly the frames the spec describes. The expected files
// (spec/format/expected/<fixture>.txt, one frame per line as `<PRI> TIMESTAMP PROCID MSG`) were
// written by hand from each fixture's JSON and docs/log-format.md, not from the
// formatter's output. The pgbench captures are too long to write out: specific records are
// spot-checked by hand and every frame is checked against the invariants.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatRecord, MAX_FRAME_BYTES, resolveFormatOptions } from '../../src/format';
import { parseLogplexBody } from '../../src/tools/logplexBody';
import { loadFixture, loadFixtures } from '../support/fixtures';
import { fixtureRecordsOf, frameFormatter, framesOf, parseFrame, readable, sourced, TOKEN } from './records';

const EXPECTED_DIR = join(__dirname, 'expected');
const format = frameFormatter();

function expectedLines(name: string): string[] {
  return readFileSync(join(EXPECTED_DIR, `${name}.txt`), 'utf8').split('\n').filter((l) => l !== '');
}

function render(name: string): Buffer[] {
  return fixtureRecordsOf(loadFixture(name)).flatMap((r) => format(sourced(r)));
}

const handWritten = loadFixtures()
  .map((f) => f.name)
  .filter((name) => existsSync(join(EXPECTED_DIR, `${name}.txt`)));

describe('fixtures rendered to the hand-written expected frames', () => {
  it('covers every fixture but the two pgbench captures', () => {
    const all = loadFixtures().map((f) => f.name);
    expect(all.filter((n) => !handWritten.includes(n))).toEqual(['22-pgbench-init', '24-pgbench-client-1']);
  });

  it.each(handWritten)('%s', (name) => {
    expect(render(name).map(readable)).toEqual(expectedLines(name));
  });
});

describe('every fixture frame', () => {
  const all = loadFixtures().map((f) => [f.name] as const);

  it.each(all)('%s: header fields, octet counts and the 10240-byte cap', (name) => {
    for (const frame of render(name)) {
      const f = parseFrame(frame);
      expect(f.length).toBe(f.bytes);
      expect(f.bytes).toBeLessThanOrEqual(MAX_FRAME_BYTES);
      expect(Buffer.byteLength(f.msg)).toBeLessThanOrEqual(10000);
      expect(f.hostname).toBe('postgres');
      expect(f.appName).toBe(TOKEN);
      expect(f.procId).toMatch(/^postgres\.\d+$/);
    }
  });

  it.each(all)('%s: one body that logplex would parse back frame by frame', (name) => {
    const frames = render(name);
    const parsed = parseLogplexBody(Buffer.concat(frames));
    expect(parsed.map((f) => f.msg)).toEqual(frames.map((b) => parseFrame(b).msg));
    expect(parsed.every((f) => f.appName === TOKEN && f.msgId === '-' && f.sd === '-')).toBe(true);
  });
});

describe('pgbench captures', () => {
  it('22-pgbench-init: two frames per record (message and LOCATION), N and SEQ in order', () => {
    const records = fixtureRecordsOf(loadFixture('22-pgbench-init'));
    expect(records).toHaveLength(61);
    for (const r of records) {
      const msgs = format(sourced(r)).map((b) => parseFrame(b).msg);
      expect(msgs).toHaveLength(2);
      expect(msgs[0]).toMatch(new RegExp(`^\\[BLUE\\] \\[${r.SeqNum}-1\\] sql_error_code = 00000 (LOG|NOTICE):  `));
      expect(msgs[1]).toBe(`[BLUE] [${r.SeqNum}-2] sql_error_code = 00000 LOCATION:  ${r.FileErrPos}`);
    }
  });

  it('22-pgbench-init: spot checks, written by hand', () => {
    const records = fixtureRecordsOf(loadFixture('22-pgbench-init'));
    const bySeq = (seq: number): string[] => {
      const record = records.find((r) => r.SeqNum === seq);
      if (record === undefined) throw new Error(`no record with SeqNum ${seq}`);
      return format(sourced(record)).map(readable);
    };
    expect(bySeq(3)).toEqual([
      '<134> 2026-11-25T01:59:19.157000+00:00 postgres.7757 [BLUE] [3-1] sql_error_code = 00000 LOG:  statement: drop table if exists pgbench_accounts, pgbench_branches, pgbench_history, pgbench_tellers',
      '<134> 2026-11-25T01:59:19.157000+00:00 postgres.7757 [BLUE] [3-2] sql_error_code = 00000 LOCATION:  exec_simple_query, postgres.c:1019',
    ]);
    expect(bySeq(4)).toEqual([
      '<133> 2026-11-25T01:59:19.157000+00:00 postgres.7757 [BLUE] [4-1] sql_error_code = 00000 NOTICE:  table "pgbench_accounts" does not exist, skipping',
      '<133> 2026-11-25T01:59:19.157000+00:00 postgres.7757 [BLUE] [4-2] sql_error_code = 00000 LOCATION:  DropErrorMsgNonExistent, tablecmds.c:1337',
    ]);
    expect(bySeq(6)).toEqual([
      '<133> 2026-11-25T01:59:19.158000+00:00 postgres.7757 [BLUE] [6-1] sql_error_code = 00000 NOTICE:  table "pgbench_history" does not exist, skipping',
      '<133> 2026-11-25T01:59:19.158000+00:00 postgres.7757 [BLUE] [6-2] sql_error_code = 00000 LOCATION:  DropErrorMsgNonExistent, tablecmds.c:1337',
    ]);
  });

  it('24-pgbench-client-1: two frames per record, all LOG, and the 35 pgbench statements', () => {
    const records = fixtureRecordsOf(loadFixture('24-pgbench-client-1'));
    expect(records).toHaveLength(73);
    const frames = records.flatMap((r) => format(sourced(r)));
    expect(frames).toHaveLength(2 * 73);
    const msgs = frames.map((b) => parseFrame(b));
    expect(msgs.every((f) => f.pri === 134)).toBe(true);
    expect(msgs.filter((f) => / LOG: {2}statement: /.test(f.msg))).toHaveLength(35);
  });
});

describe('the unique violation example of log-format.md, verbatim', () => {
  it('renders the three lines of the spec', () => {
    const record = {
      ...fixtureRecordsOf(loadFixture('13-unique-violation')).find((r) => r.SQLState === '23505')!,
      SeqNum: 5,
      ErrMessage: 'duplicate key value violates unique constraint "t_pkey"',
      ErrDetail: 'Key (x)=(1) already exists.',
      UserQuery: 'insert into t values (1),(1);',
      FileErrPos: null, // log_error_verbosity = default: pg_logfebe sends no position
    };
    const msgs = framesOf(formatRecord(sourced(record), resolveFormatOptions())).map((b) => parseFrame(b).msg);
    expect(msgs).toEqual([
      '[BLUE] [5-1] sql_error_code = 23505 ERROR:  duplicate key value violates unique constraint "t_pkey"',
      '[BLUE] [5-2] sql_error_code = 23505 DETAIL:  Key (x)=(1) already exists.',
      '[BLUE] [5-3] sql_error_code = 23505 STATEMENT:  insert into t values (1),(1);',
    ]);
  });
});
