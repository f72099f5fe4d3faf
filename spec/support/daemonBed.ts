// What the daemon's black-box specs each set up: a temporary serve database, a logplex stand-in
// on 127.0.0.1, and the daemon children a test starts, all gone after each test (a failed one
// too: a daemon left running would hold its sockets and keep jest waiting).
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startLogplexStandIn, type LogplexStandIn, type LogplexStandInOptions, type ReceivedBatch } from '../../src/tools/logplexStandIn';
import { DaemonProcess } from './daemonProcess';

/** serves.new written whole and renamed into place, as operators are told to. */
export function writeServes(dir: string, serves: readonly object[]): void {
  writeFileSync(join(dir, 'serves.tmp'), JSON.stringify({ serves }));
  renameSync(join(dir, 'serves.tmp'), join(dir, 'serves.new'));
}

export interface DaemonBed {
  /** The serve database directory (SERVE_DB_DIR), fresh for each test; sockets may go in it too. */
  readonly dir: string;
  readonly standIn: LogplexStandIn;
  /** Every batch the stand-in received during this test. */
  readonly received: readonly ReceivedBatch[];
  /** serves.new in this bed's directory. */
  writeServes(serves: readonly object[]): void;
  /**
   * A daemon on this bed's serve database and stand-in, with `--stats-interval 0` (no stats lines
   * in the way) before `args`; killed after the test.
   */
  start(args?: readonly string[], options?: ConstructorParameters<typeof DaemonProcess>[2]): DaemonProcess;
}

/** Registers the bed's beforeEach/afterEach in the calling describe(); `prefix` names its temp directories. */
export function useDaemonBed(prefix: string, standInOptions: Partial<LogplexStandInOptions> = {}): DaemonBed {
  let dir: string | undefined;
  let standIn: LogplexStandIn | undefined;
  let received: ReceivedBatch[] = [];
  const daemons: DaemonProcess[] = [];
  const during = <T>(what: string, value: T | undefined): T => {
    if (value === undefined) throw new Error(`daemon bed: ${what} exists only while a test runs`);
    return value;
  };

  beforeEach(async () => {
    dir = mkdtempSync(`/tmp/${prefix}-`);
    standIn = await startLogplexStandIn(standInOptions);
    const batches: ReceivedBatch[] = [];
    received = batches;
    standIn.received$.subscribe((b) => batches.push(b));
  });
  afterEach(async () => {
    for (const d of daemons.splice(0)) {
      d.kill('SIGKILL');
      await d.exited;
    }
    await standIn?.close();
    standIn = undefined;
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  return {
    get dir() {
      return during('the directory', dir);
    },
    get standIn() {
      return during('the stand-in', standIn);
    },
    get received() {
      return received;
    },
    writeServes: (serves) => writeServes(during('the directory', dir), serves),
    start(args = [], options = {}) {
      const env = { SERVE_DB_DIR: during('the directory', dir), LOGPLEX_URL: during('the stand-in', standIn).url };
      const d = new DaemonProcess(['--stats-interval', '0', ...args], env, options);
      daemons.push(d);
      return d;
    },
  };
}
