// What an idle daemon holds (docs/benchmarks.md, *Idle*): modules that only records need (zlib,
// crypto, undici) are not loaded at start-up, and the tuning for load (v8Tuning.ts) and the post
// path's warm-up (undici, crypto) begin at the first backend's connection. Observed from outside: a module
// preloaded through NODE_OPTIONS prints node's list of loaded built-in modules when sent SIGUSR2;
// RSS figures are the bench's (`npm run bench:idle`), not a test's.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RELAUNCH_ENV, lastResortGcAvailable, leanFlags } from '../../src/daemon/v8Tuning';
import type { CollectorEvent } from '../../src/collector';
import { whenStartUpQuiet } from '../../src/daemon/main';
import { ReplaySubject, Subject } from '../../src/rx';
import { runEmulator } from '../../src/tools/logfebeEmulator';
import { useDaemonBed } from '../support/daemonBed';
import { BIN, DaemonProcess } from '../support/daemonProcess';
import { waitUntil } from '../support/waitUntil';

const TOKEN = 't.1d1e0000-0000-4000-8000-000000000001';

// Loads nothing itself: process.moduleLoadList is node's own record of what was loaded.
const REPORTER = `
let asked = 0;
process.on('SIGUSR2', () => {
  asked += 1;
  const builtins = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length));
  process.stdout.write('MODULES ' + asked + ' ' + JSON.stringify(builtins) + '\\n');
  process.stdout.write('NODE ' + asked + ' ' + JSON.stringify({ pid: process.pid, execArgv: process.execArgv, marked: ${JSON.stringify(RELAUNCH_ENV)} in process.env }) + '\\n');
  process.stdout.write('UNDICI ' + asked + ' ' + String(Object.keys(require.cache).some((f) => f.includes('/node_modules/undici/'))) + '\\n');
});
`;

/** Runs where node can replace its own process (Node 22.15, 23.11 and later). */
const canRelaunch = typeof (process as NodeJS.Process & { readonly execve?: unknown }).execve === 'function';

describe('the daemon, idle since start-up', () => {
  const bed = useDaemonBed('plc-idle');
  let daemon: DaemonProcess | undefined;
  afterEach(async () => {
    daemon?.kill('SIGKILL');
    await daemon?.exited;
    daemon = undefined;
  });

  /** The built-in modules the daemon has loaded by now (the `n`th time it is asked). */
  const builtinsNow = async (d: DaemonProcess, n: number): Promise<string[]> => {
    const prefix = `MODULES ${n} `;
    d.kill('SIGUSR2');
    // UNDICI is the reporter's last line: once it is here, so are the others.
    await waitUntil(() => d.stdout.some((l) => l.startsWith(`UNDICI ${n} `)), 10_000, `the daemon's module list #${n}`);
    const line = d.stdout.find((l) => l.startsWith(prefix)) as string;
    return JSON.parse(line.slice(prefix.length)) as string[];
  };

  /** What node the daemon runs in by now (the `n`th time it is asked). */
  const nodeNow = (d: DaemonProcess, n: number): { pid: number; execArgv: string[]; marked: boolean } => {
    const line = d.stdout.find((l) => l.startsWith(`NODE ${n} `)) as string;
    return JSON.parse(line.slice(`NODE ${n} `.length)) as { pid: number; execArgv: string[]; marked: boolean };
  };

  it("runs lean from node's own command line where node can relaunch itself: same pid, the operator's node flags after ours, the mark gone", async () => {
    const reporter = join(bed.dir, 'report-modules.js');
    writeFileSync(reporter, REPORTER);
    bed.writeServes([{ i: 'idle', t: TOKEN, p: join(bed.dir, 'idle.sock'), name: 'IDLE' }]);
    // --stack-size=900: a node flag of the operator's, which the relaunch keeps.
    const d = new DaemonProcess([], { SERVE_DB_DIR: bed.dir, LOGPLEX_URL: bed.standIn.url, NODE_OPTIONS: `--require ${reporter}` }, {
      shell: `exec "${process.execPath}" --stack-size=900 "${BIN}" --stats-interval 0`,
    });
    daemon = d;
    await d.waitFor('listening');
    await builtinsNow(d, 1);
    const node = nodeNow(d, 1);
    expect(node.pid).toBe(d.child.pid);
    expect(node.marked).toBe(false);
    expect(node.execArgv).toEqual(canRelaunch ? [...leanFlags(), '--stack-size=900'] : ['--stack-size=900']);
  });

  (lastResortGcAvailable() ? it : it.skip)("gives start-up's garbage back once start-up is quiet, no backend having connected", async () => {
    // --trace-gc names each collection and its reason: `testing` is a gc() asked for by a script.
    bed.writeServes([{ i: 'idle', t: TOKEN, p: join(bed.dir, 'idle.sock'), name: 'IDLE' }]);
    const d = new DaemonProcess([], { SERVE_DB_DIR: bed.dir, LOGPLEX_URL: bed.standIn.url }, {
      shell: `exec "${process.execPath}" --trace-gc "${BIN}" --stats-interval 0`,
    });
    daemon = d;
    await d.waitFor('listening');
    await waitUntil(() => d.stdout.some((l) => /Mark-Compact \(reduce\).*testing/.test(l)), 20_000, 'a memory-reducing full GC');
  });

  it('has loaded neither zlib, perf_hooks, crypto nor undici; the first connection brings the GC observer (perf_hooks) and warms the post path (undici, crypto), still no zlib', async () => {
    const reporter = join(bed.dir, 'report-modules.js');
    writeFileSync(reporter, REPORTER);
    const socketPath = join(bed.dir, 'idle.sock');
    bed.writeServes([{ i: 'idle', t: TOKEN, p: socketPath, name: 'IDLE' }]);
    const d = new DaemonProcess(['--stats-interval', '0', '--flush-interval', '60s'], {
      SERVE_DB_DIR: bed.dir,
      LOGPLEX_URL: bed.standIn.url,
      NODE_OPTIONS: `--require ${reporter}`,
    });
    daemon = d;
    await d.waitFor('started');
    await d.waitFor('listening');

    const idle = await builtinsNow(d, 1);
    expect(idle).toContain('net'); // the list is node's real one
    expect(idle).not.toContain('zlib');
    expect(idle).not.toContain('perf_hooks');
    expect(idle).not.toContain('crypto');
    expect(d.stdout).toContain('UNDICI 1 false');

    // One backend, one record; the flush interval holds it in its batch, so nothing is posted yet.
    await runEmulator({ socketPath, identity: 'idle', recordsPerConnection: 1 });
    await d.waitFor('connect');
    await waitUntil(() => d.lines.some((l) => l.includes('event=disconnect')), 10_000, 'the backend to be gone');
    // The post path warmed by the connection, before any post: undici and node:crypto loaded.
    const connected = await builtinsNow(d, 2);
    expect(connected).toContain('perf_hooks');
    expect(connected).toContain('crypto');
    expect(connected).not.toContain('zlib');
    expect(d.stdout).toContain('UNDICI 2 true');
    expect(bed.received).toEqual([]);
  });
});

describe('whenStartUpQuiet', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());
  const event = (kind: string): CollectorEvent => ({ kind, level: 'info' }) as CollectorEvent;

  it('calls back once the collector has said nothing for the quiet time, each event restarting it', () => {
    const event$ = new Subject<CollectorEvent>();
    const quiet = jest.fn();
    whenStartUpQuiet({ event$ }, 1000, quiet);
    jest.advanceTimersByTime(900);
    event$.next(event('listening'));
    jest.advanceTimersByTime(900);
    expect(quiet).not.toHaveBeenCalled();
    jest.advanceTimersByTime(100);
    expect(quiet).toHaveBeenCalledTimes(1);
    expect(event$.observed).toBe(false);
  });

  it('never calls back when a backend connected before it subscribed (an event$ that replays)', () => {
    const event$ = new ReplaySubject<CollectorEvent>();
    event$.next(event('connect'));
    const quiet = jest.fn();
    whenStartUpQuiet({ event$ }, 1000, quiet);
    jest.advanceTimersByTime(5000);
    expect(quiet).not.toHaveBeenCalled();
    expect(event$.observed).toBe(false);
  });

  it('never calls back once a backend has connected, nor once the collector is stopping', () => {
    for (const kind of ['connect', 'stopping']) {
      const event$ = new Subject<CollectorEvent>();
      const quiet = jest.fn();
      whenStartUpQuiet({ event$ }, 1000, quiet);
      event$.next(event(kind));
      jest.advanceTimersByTime(5000);
      expect(quiet).not.toHaveBeenCalled();
      expect(event$.observed).toBe(false);
    }
  });
});
