// The real daemon as a child process (`node bin/pg-logplexcollector.js`, built dist/), driven
// the way an operator drives it: a serve database directory, LOGPLEX_URL, flags, SIGTERM. Its
// stderr log (logfmt) is parsed into events, which is all the harness knows of its insides.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

/** Repo root, from build/bench/harness (compiled) or bench/harness (ts-jest). */
export function repoRoot(): string {
  const here = resolve(__dirname);
  return here.includes(`${join('build', 'bench')}`) ? resolve(here, '../../..') : resolve(here, '../..');
}

export type LogValue = string | number | boolean;
export type LogEvent = Readonly<Record<string, LogValue>> & { readonly event: string };

const PAIR = /([A-Za-z_][\w.]*)=("(?:[^"\\]|\\.)*"|\S*)/g;

/** One logfmt line as the daemon writes it (daemon/log.ts): quoted values are JSON strings. */
export function parseLogfmt(line: string): LogEvent | undefined {
  const out: Record<string, LogValue> = {};
  for (const m of line.matchAll(PAIR)) {
    const key = m[1] as string;
    const raw = m[2] as string;
    let value: LogValue = raw;
    if (raw.startsWith('"')) value = JSON.parse(raw) as string;
    else if (raw === 'true' || raw === 'false') value = raw === 'true';
    else if (raw !== '' && Number.isFinite(Number(raw))) value = Number(raw);
    out[key] = value;
  }
  return typeof out.event === 'string' ? (out as LogEvent) : undefined;
}

export interface ServeSpec {
  readonly identity: string;
  readonly token: string;
  readonly socketPath: string;
  readonly name: string;
}

export interface DaemonOptions {
  readonly logplexUrl: string;
  readonly flags: readonly string[]; // e.g. ['--flush-interval', '250ms']
  readonly keepEventKinds: ReadonlySet<string>; // kept in full; every kind is counted anyway
  readonly nodeArgs?: readonly string[]; // e.g. ['--cpu-prof', '--cpu-prof-dir=…'] to profile the daemon
  readonly root?: string; // the checkout whose bin/ and dist/ run (a baseline's worktree); default ours
  readonly dir?: string; // an existing serve database (a restart after crash()); a new temporary one when absent
  readonly openFiles?: number; // the daemon's open-file limit (soft and hard), set by the shell before node starts
}

// Events a run reads back: all of them but the per-connection ones, which number in the thousands.
export const DEFAULT_KEPT_EVENTS: ReadonlySet<string> = new Set([
  'serves_accepted',
  'listening',
  'drop',
  'batch_lost',
  'stopped',
  'format_failed',
  'protocol_error',
  'identity_mismatch',
]);

export interface DaemonExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stopMs: number; // SIGTERM → exit: the graceful flush
}

export class DaemonChild {
  readonly events: LogEvent[] = [];
  readonly counts = new Map<string, number>();
  readonly otherStderr: string[] = []; // lines that are not our logfmt (a crash's stack, say)
  latestStats: LogEvent | undefined;
  readonly dir: string; // the serve database, and the sockets under it
  readonly #child: ChildProcess;
  readonly #exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #listeners: (() => void)[] = [];

  constructor(options: DaemonOptions) {
    this.dir = options.dir ?? mkdtempSync(join(tmpdir(), 'plc-bench-'));
    const argv = [...(options.nodeArgs ?? []), join(options.root ?? repoRoot(), 'bin', 'pg-logplexcollector.js'), ...options.flags];
    const [file, args] =
      options.openFiles === undefined
        ? [process.execPath, argv]
        : ['/bin/sh', ['-c', `ulimit -n ${options.openFiles} && exec "$0" "$@"`, process.execPath, ...argv]];
    this.#child = spawn(file, args, {
      env: { ...process.env, SERVE_DB_DIR: this.dir, LOGPLEX_URL: options.logplexUrl },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.#exited = new Promise((resolve) => this.#child.once('exit', (code, signal) => resolve({ code, signal })));
    const lines = createInterface({ input: this.#child.stderr as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      const e = parseLogfmt(line);
      if (e === undefined) {
        if (this.otherStderr.length < 200) this.otherStderr.push(line);
        return;
      }
      this.counts.set(e.event, (this.counts.get(e.event) ?? 0) + 1);
      if (e.event === 'stats') this.latestStats = e;
      else if (options.keepEventKinds.has(e.event)) this.events.push(e);
      for (const l of this.#listeners) l();
    });
  }

  get pid(): number {
    return this.#child.pid as number;
  }

  count(kind: string): number {
    return this.counts.get(kind) ?? 0;
  }

  /** Resolves once `done()` holds, checked after each log line; rejects after `timeoutMs`. */
  waitFor(what: string, done: () => boolean, timeoutMs: number): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!done()) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`daemon: timed out after ${timeoutMs} ms waiting for ${what}; stderr: ${this.otherStderr.slice(-5).join(' | ')}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.#listeners = this.#listeners.filter((l) => l !== check);
      };
      this.#listeners.push(check);
    });
  }

  /** serves.new written as operators should (temp name, then rename); resolves when all listen. */
  async serve(serves: readonly ServeSpec[], timeoutMs: number): Promise<void> {
    const body = { serves: serves.map((s) => ({ i: s.identity, t: s.token, p: s.socketPath, name: s.name })) };
    const tmp = join(this.dir, 'serves.new.tmp');
    writeFileSync(tmp, JSON.stringify(body));
    renameSync(tmp, join(this.dir, 'serves.new'));
    const wanted = new Set(serves.map((s) => s.socketPath));
    await this.waitFor(
      `${wanted.size} sockets listening`,
      () => this.events.filter((e) => e.event === 'listening' && wanted.has(String(e.socket))).length >= wanted.size,
      timeoutMs,
    );
  }

  /** SIGTERM (graceful: flush, exit 0), then SIGKILL if it takes longer than `timeoutMs`. */
  async stop(timeoutMs: number): Promise<DaemonExit> {
    const started = performance.now();
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), timeoutMs);
    const exit = await this.#exited;
    clearTimeout(timer);
    rmSync(this.dir, { recursive: true, force: true });
    return { ...exit, stopMs: performance.now() - started };
  }

  /** kill -9, as a crash: nothing flushed, the directory (serve database, sockets) left as it is. */
  async crash(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL');
    await this.#exited;
  }

  /** For error paths: no flush, nothing left running. */
  kill(): void {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
