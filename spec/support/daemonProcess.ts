// The daemon as a child process, black box: `node bin/pg-logplexcollector.js` (built dist/, which
// `npm test` builds first), its stderr parsed as our logfmt lines.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ReceivedBatch } from '../../src/tools/logplexStandIn';

/** The repository's root: from spec/support under jest, or build/spec/support when compiled. */
function repoRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

export const BIN = join(repoRoot(), 'bin', 'pg-logplexcollector.js');

/** One logfmt line as a flat object: `event=connect serve=X records=3` → { event: 'connect', ... }. */
export type LogLine = Record<string, string>;

export function parseLogfmt(line: string): LogLine {
  const out: LogLine = {};
  const re = /(\w+)=("(?:[^"\\]|\\.)*"|\S*)/g;
  for (let m = re.exec(line); m !== null; m = re.exec(line)) {
    const [, key, raw] = m;
    if (key === undefined || raw === undefined) continue;
    out[key] = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
  }
  return out;
}

export class DaemonProcess {
  readonly child: ChildProcess;
  readonly lines: string[] = []; // every stderr line
  readonly stdout: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters: Array<() => void> = [];
  /** Starts reading stderr into `lines` (at once, unless constructed with `unreadStderr`). */
  readStderr: () => void;

  /**
   * `openFiles`: the child's open-file limit (soft and hard), set by the shell before it starts node.
   * `unreadStderr`: stderr is a pipe this side never reads, as when the daemon's log reader is
   * stuck: once the pipe's 64 KiB are full, every write the daemon makes has to wait.
   * `shell`: run this `sh -c` command line instead of `node BIN args` (args are then ignored),
   * detached in a process group of its own, as a supervisor starts a service: the group is
   * signalled with `killGroup`.
   */
  constructor(
    args: readonly string[],
    env: NodeJS.ProcessEnv,
    options: { cwd?: string; openFiles?: number; unreadStderr?: boolean; shell?: string } = {},
  ) {
    const command =
      options.shell !== undefined
        ? { file: '/bin/sh', args: ['-c', options.shell] }
        : options.openFiles === undefined
          ? { file: process.execPath, args: [BIN, ...args] }
          : { file: '/bin/sh', args: ['-c', `ulimit -n ${options.openFiles} && exec "$0" "$@"`, process.execPath, BIN, ...args] };
    this.child = spawn(command.file, command.args, {
      cwd: options.cwd,
      detached: options.shell !== undefined,
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (into: string[]) => {
      let partial = '';
      return (chunk: Buffer) => {
        const text = partial + chunk.toString('utf8');
        const parts = text.split('\n');
        partial = parts.pop() ?? '';
        into.push(...parts);
        for (const wake of this.waiters.splice(0)) wake();
      };
    };
    this.readStderr = () => {
      this.readStderr = () => undefined;
      this.child.off('exit', discardStderr);
      this.child.stderr?.on('data', collect(this.lines));
      this.child.stderr?.resume(); // paused explicitly, a 'data' listener alone would not start it
    };
    // Unread, what the pipe holds when the daemon exits is not wanted (and would keep jest waiting).
    const discardStderr = (): void => void this.child.stderr?.destroy();
    if (options.unreadStderr === true) {
      this.child.stderr?.pause();
      this.child.on('exit', discardStderr);
    } else this.readStderr();
    this.child.stdout?.on('data', collect(this.stdout));
    this.exited = new Promise((done) => this.child.on('exit', (code, signal) => done({ code, signal })));
    void this.exited.then(() => {
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  events(kind: string): LogLine[] {
    return this.lines.map(parseLogfmt).filter((l) => l.event === kind);
  }

  /** Resolves with the first log line of `kind` matching `where`; rejects if the daemon exits first. */
  async waitFor(kind: string, where: (l: LogLine) => boolean = () => true, timeoutMs = 10_000): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.exited.then(() => (exited = true));
    for (;;) {
      const found = this.events(kind).find(where);
      if (found !== undefined) return found;
      if (exited) throw new Error(`daemon exited before logging ${kind}:\n${this.lines.join('\n')}`);
      if (Date.now() > deadline) throw new Error(`no ${kind} within ${timeoutMs} ms:\n${this.lines.join('\n')}`);
      await new Promise<void>((wake) => {
        this.waiters.push(wake);
        setTimeout(wake, 100);
      });
    }
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Signal the whole process group (systemd's KillMode=control-group, Ctrl-C in a terminal). */
  killGroup(signal: NodeJS.Signals): void {
    if (this.child.pid !== undefined) process.kill(-this.child.pid, signal);
  }
}

/** The emulator's per-record markers (`marker=CONN-SEQ`) that reached the stand-in: delivered records. */
export function markersIn(batches: readonly ReceivedBatch[]): Set<string> {
  const seen = new Set<string>();
  for (const b of batches) for (const f of b.frames) for (const m of f.msg.matchAll(/marker=(\d+-\d+)/g)) seen.add(m[1] ?? '');
  return seen;
}
