// A throwaway PostgreSQL cluster in a temporary directory: initdb, settings appended to
// postgresql.conf, pg_ctl start/stop, and the clients (psql, pgbench) pointed at its unix socket.
// It listens on no TCP port. As root, the server side runs as the `postgres` user (initdb and
// postgres refuse root); the clients connect as the `postgres` role with trust authentication.
//
// Every command runs asynchronously: the logplex stand-in lives in this process, and a blocked
// event loop would stall the collector's posts and turn into drops.
import { spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, readdirSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PostgresTools } from './prerequisites';

export interface CommandResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export class CommandError extends Error {
  override readonly name = 'CommandError';
}

/** Runs a command to its end, or kills it at `timeoutMs` and rejects; stdout/stderr kept (bounded). */
export function runCommand(cmd: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<CommandResult> {
  const KEEP = 1 << 20; // a 60 kB statement echoed back is the most we expect; more is cut
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout = (stdout + c.toString('utf8')).slice(-KEEP)));
    child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString('utf8')).slice(-KEEP)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new CommandError(`${cmd} ${args.join(' ')}: no exit within ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A command that must succeed: rejects with its stderr otherwise. */
async function mustRun(cmd: string, args: readonly string[], timeoutMs: number, env?: NodeJS.ProcessEnv): Promise<CommandResult> {
  const r = await runCommand(cmd, args, { timeoutMs, ...(env === undefined ? {} : { env }) });
  if (r.code !== 0) throw new CommandError(`${cmd} ${args.join(' ')} exited ${r.code}:\n${r.stderr}${r.stdout}`);
  return r;
}

/** Parent pid of every process, from /proc/<pid>/stat (the field after the parenthesised name). */
function parentPids(): Map<number, number> {
  const out = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      out.set(Number(entry), ppid);
    } catch {
      // gone between readdir and read
    }
  }
  return out;
}

export function descendantsOf(root: number): number[] {
  const parents = parentPids();
  const found = [root];
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of parents) {
      if (found.includes(ppid) && !found.includes(pid)) {
        found.push(pid);
        grew = true;
      }
    }
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    // A zombie's cmdline is empty: exited, only waiting to be reaped.
    return readFileSync(`/proc/${pid}/cmdline`).length > 0;
  } catch {
    return false;
  }
}

export const SERVER_PORT = 5432; // only names the socket file in our own directory: no TCP at all

export class Cluster {
  readonly dataDir: string;
  readonly socketDir: string;
  readonly logDir: string;
  readonly #startLog: string;
  readonly #tools: PostgresTools;
  #postmasterPid: number | undefined;

  constructor(tools: PostgresTools, root: string) {
    this.#tools = tools;
    const home = join(root, 'pg');
    this.dataDir = join(home, 'data');
    this.socketDir = join(home, 'run');
    this.logDir = join(home, 'log');
    this.#startLog = join(home, 'pg_ctl.log');
    for (const dir of [home, this.socketDir, this.logDir]) mkdirSync(dir, { mode: 0o755 });
    const runAs = tools.runAs;
    if (runAs !== undefined) for (const dir of [home, this.socketDir, this.logDir]) chownSync(dir, runAs.uid, runAs.gid);
  }

  /** The server's stderr before the logging collector took over (pg_ctl -l). */
  get stderrPath(): string {
    return this.#startLog;
  }

  /** The csvlog file PostgreSQL writes (log_filename below, with .csv). */
  get csvlogPath(): string {
    return join(this.logDir, 'postgresql.csv');
  }

  /** A server-side program (initdb, pg_ctl) as the server's user. */
  #asServer(program: string, args: readonly string[], timeoutMs: number): Promise<CommandResult> {
    const path = join(this.#tools.bindir, program);
    const runAs = this.#tools.runAs;
    if (runAs === undefined) return mustRun(path, args, timeoutMs);
    return mustRun(runAs.runuser, ['-u', runAs.user, '--', path, ...args], timeoutMs);
  }

  async init(timeoutMs: number): Promise<void> {
    await this.#asServer('initdb', ['-D', this.dataDir, '-U', 'postgres', '--auth=trust', '--no-locale', '-E', 'UTF8', '--no-sync'], timeoutMs);
  }

  /** Appends `name = value` lines; strings are quoted as postgresql.conf wants. */
  configure(settings: Readonly<Record<string, string | number | boolean>>): void {
    const quote = (v: string | number | boolean): string => (typeof v === 'string' ? `'${v.replace(/'/g, "''")}'` : String(v));
    const lines = Object.entries(settings).map(([k, v]) => `${k} = ${quote(v)}`);
    appendFileSync(join(this.dataDir, 'postgresql.conf'), `\n# pg-logplexcollector end-to-end test\n${lines.join('\n')}\n`);
  }

  async start(timeoutMs: number): Promise<void> {
    try {
      await this.#asServer('pg_ctl', ['-D', this.dataDir, '-l', this.#startLog, '-w', '-t', String(Math.ceil(timeoutMs / 1000)), 'start'], timeoutMs + 5_000);
    } catch (e) {
      // pg_ctl only says "examine the log output": the reason (a library that would not load, …) is there.
      const log = existsSync(this.#startLog) ? readFileSync(this.#startLog, 'utf8').slice(-2000) : '(no log)';
      throw new CommandError(`${e instanceof Error ? e.message : String(e)}\nserver log ${this.#startLog}:\n${log}`);
    }
    this.#postmasterPid = Number(readFileSync(join(this.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  }

  /**
   * Fast shutdown, then waits for every process of the cluster to be gone: the logger writes the
   * csvlog's last lines, and every backend's pg_logfebe socket is closed, only then.
   */
  async stop(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const pids = this.#postmasterPid === undefined ? [] : descendantsOf(this.#postmasterPid);
    await this.#asServer('pg_ctl', ['-D', this.dataDir, '-m', 'fast', '-w', '-t', String(Math.ceil(timeoutMs / 1000)), 'stop'], timeoutMs + 5_000);
    while (pids.some(alive)) {
      if (Date.now() > deadline) throw new CommandError(`cluster processes still running ${timeoutMs} ms after stop: ${pids.filter(alive).join(' ')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    this.#postmasterPid = undefined;
  }

  /** The postmaster's pid while the server runs. */
  get postmasterPid(): number | undefined {
    return this.#postmasterPid;
  }

  get running(): boolean {
    return this.#postmasterPid !== undefined && existsSync(join(this.dataDir, 'postmaster.pid'));
  }

  #clientEnv(applicationName: string): NodeJS.ProcessEnv {
    return { ...process.env, PGHOST: this.socketDir, PGPORT: String(SERVER_PORT), PGUSER: 'postgres', PGAPPNAME: applicationName, PGCONNECT_TIMEOUT: '60' };
  }

  /** psql against `database`; failures are the caller's to judge (the workload makes errors on purpose). */
  psql(args: readonly string[], options: { database?: string; applicationName: string; timeoutMs: number }): Promise<CommandResult> {
    return runCommand(this.#tools.psql, ['-X', '-q', '-d', options.database ?? 'postgres', ...args], {
      env: this.#clientEnv(options.applicationName),
      timeoutMs: options.timeoutMs,
    });
  }

  /** One value from a query that must succeed. */
  async query(sql: string, timeoutMs: number): Promise<string> {
    const r = await this.psql(['-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', sql], { applicationName: 'e2e-control', timeoutMs });
    if (r.code !== 0) throw new CommandError(`psql -c ${JSON.stringify(sql)} exited ${r.code}: ${r.stderr}`);
    return r.stdout.trim();
  }

  /** pgbench; rejects unless it exits 0. */
  pgbench(args: readonly string[], applicationName: string, timeoutMs: number): Promise<CommandResult> {
    return mustRun(this.#tools.pgbench, [...args, 'postgres'], timeoutMs, this.#clientEnv(applicationName));
  }

  /** Error paths: SIGQUIT, PostgreSQL's immediate shutdown (the postmaster takes its children along). */
  abandon(): void {
    if (this.#postmasterPid === undefined) return;
    try {
      process.kill(this.#postmasterPid, 'SIGQUIT');
    } catch {
      // already gone
    }
    this.#postmasterPid = undefined;
  }
}

/** `tps = 1234.56 (without initial connection time)` from pgbench's report. */
export function pgbenchTps(stdout: string): number {
  const m = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout);
  if (m === null) throw new CommandError(`no tps in pgbench's output:\n${stdout}`);
  return Number(m[1]);
}
