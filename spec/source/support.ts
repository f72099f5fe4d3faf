// Shared by the source specs: short temp dirs for unix sockets, a PostgreSQL stand-in speaking
// logfebe-1 over node:net, and a harness that runs socketSource and records what it did.
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { Subject, type Subscription, VirtualTimeScheduler } from 'rxjs';
import { encodeIdentity, encodeRecord, encodeVersion } from '../../src/protocol/encode';
import type { LogRecord } from '../../src/protocol/messages';
import { Secret } from '../../src/secret';
import type { Serve, ServeSet } from '../../src/servedb/serve';
import type { SourceEvent } from '../../src/source/events';
import { socketSource, type SocketSourceOptions } from '../../src/source/socketSource';
import { eachRecord, type SourcedRecord } from '../../src/source/sourcedRecord';
import { fixtureRecords } from '../support/fixtures';

/** A fresh directory short enough that socket paths in it stay far below 107 bytes. */
export function tempDir(): { dir: string; path: (name: string) => string; remove: () => void } {
  const dir = mkdtempSync('/tmp/plc-');
  return { dir, path: (name) => join(dir, name), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A group other than our own where we may chown to it (root may use any id), else our own. */
export const otherGid = (): number => {
  if (process.getuid?.() === 0) return 4242; // root can chown to any gid, listed in /etc/group or not
  const mine = process.getgid?.() ?? 0;
  return process.getgroups?.().find((g) => g !== mine) ?? mine;
};

export function makeServe(socketPath: string, identity: string, token = 'token-1', name: string | undefined = 'BLUE'): Serve {
  return { identity, socketPath, name, target: { url: 'https://logplex.example.com/logs', user: 'token', token: new Secret(token) } };
}

const BASE_RECORD: LogRecord = fixtureRecords()[0]!;

/** A realistic record with the given process and line number. */
export const record = (pid: number, seq: number, message = `line ${seq}`): LogRecord => ({
  ...BASE_RECORD,
  Pid: pid,
  SeqNum: seq,
  ErrMessage: message,
});

export const handshake = (identity: string, version = 'PG-15.20 (Debian 15.20-0+deb12u1)/logfebe-1'): Buffer =>
  Buffer.concat([encodeVersion(version), encodeIdentity(identity)]);

/** One PostgreSQL process's connection, as pg_logfebe makes it. */
export class FakeBackend {
  readonly socket: Socket;
  readonly closed: Promise<void>; // resolves when the collector (or anything) closed the connection
  private readonly connected: Promise<void>;

  constructor(socketPath: string) {
    this.socket = createConnection(socketPath);
    this.socket.on('error', () => undefined); // a reset by the collector is expected in some tests
    this.socket.resume(); // the collector never writes, but drain anyway
    this.connected = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
    this.closed = new Promise((resolve) => this.socket.once('close', () => resolve()));
  }

  static async open(socketPath: string, identity?: string): Promise<FakeBackend> {
    const backend = new FakeBackend(socketPath);
    await backend.connected;
    if (identity !== undefined) await backend.write(handshake(identity));
    return backend;
  }

  write(bytes: Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(bytes, (error) => (error ? reject(error) : resolve())));
  }

  send(...records: LogRecord[]): Promise<void> {
    return this.write(Buffer.concat(records.map(encodeRecord)));
  }

  get isClosed(): boolean {
    return this.socket.closed;
  }

  close(): Promise<void> {
    this.socket.end();
    return this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Polls `condition` until true; fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** socketSource fed by a Subject, with everything it emitted and reported kept for assertions. */
export class Harness {
  readonly serveSet$ = new Subject<ServeSet>();
  readonly records: SourcedRecord[] = [];
  readonly events: SourceEvent[] = [];
  completed = false;
  private runningPaths = new Set<string>(); // socket paths of the last applied serve set
  error: unknown = undefined;
  private readonly subscription: Subscription;

  constructor(options: Omit<SocketSourceOptions, 'events'> = {}) {
    this.subscription = socketSource(this.serveSet$, { drainIdleMs: 20, ...options, events: (e) => this.events.push(e) }).subscribe({
      next: (chunk) => eachRecord(chunk, (r) => this.records.push(r)),
      error: (e: unknown) => (this.error = e),
      complete: () => (this.completed = true),
    });
  }

  /**
   * Applies a serve set and waits until every serve new in it is listening (or failed to), and
   * every serve it removed stopped listening (serve sets are applied over turns of the event loop).
   */
  async apply(serveSet: ServeSet): Promise<void> {
    const before = this.events.length;
    const starting = serveSet.filter((s) => !this.runningPaths.has(s.socketPath)).map((s) => s.socketPath);
    const kept = new Set(serveSet.map((s) => s.socketPath));
    const stopping = [...this.runningPaths].filter((path) => !kept.has(path) && this.isListening(path));
    this.runningPaths = kept;
    this.serveSet$.next(serveSet);
    await waitFor('listeners to settle', () => {
      const settled = this.events
        .slice(before)
        .filter((e) => e.kind === 'listening' || e.kind === 'listen_error')
        .map((e) => e.socket);
      return starting.every((path) => settled.includes(path)) && stopping.every((path) => !this.isListening(path));
    });
  }

  /** Whether the serve at `path` listens now, as its events say. */
  isListening(path: string): boolean {
    for (let at = this.events.length - 1; at >= 0; at--) {
      const e = this.events[at]!;
      if (e.socket !== path) continue;
      if (e.kind === 'listening') return true;
      if (e.kind === 'stopped_listening' || e.kind === 'listen_error') return false;
    }
    return false;
  }

  eventsOf<K extends SourceEvent['kind']>(kind: K): Extract<SourceEvent, { kind: K }>[] {
    return this.events.filter((e): e is Extract<SourceEvent, { kind: K }> => e.kind === kind);
  }

  recordsOf(pid: number): SourcedRecord[] {
    return this.records.filter((r) => r.message.record.Pid === pid);
  }

  unsubscribe(): void {
    this.subscription.unsubscribe();
  }
}

/**
 * A temporary directory, the backends a test opens and the harness it starts, each torn down
 * after every test (backends first, then the harness, then the directory). Call in a describe.
 */
export function useSourceBed(): {
  readonly tmp: () => ReturnType<typeof tempDir>;
  readonly open: (path: string, identity?: string) => Promise<FakeBackend>;
  readonly harness: (options?: Omit<SocketSourceOptions, 'events'>) => Harness;
} {
  let tmp: ReturnType<typeof tempDir> | undefined;
  let harness: Harness | undefined;
  const backends: FakeBackend[] = [];
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => {
    for (const b of backends.splice(0)) b.destroy();
    harness?.unsubscribe();
    harness = undefined;
    tmp?.remove();
  });
  return {
    tmp: () => {
      if (tmp === undefined) throw new Error('useSourceBed: tmp is made in beforeEach');
      return tmp;
    },
    open: async (path, identity) => {
      const backend = await FakeBackend.open(path, identity);
      backends.push(backend);
      return backend;
    },
    harness: (options) => (harness = new Harness(options)),
  };
}

/**
 * Virtual time for a source over real sockets: `advance(ms)` runs every timer due up to then, then
 * lets the event loop turn once, as it would after real timers (what the source remembers for one
 * synchronous run is forgotten then: socketDirectory.ts).
 */
export function virtualTime(): VirtualTimeScheduler & { advance(ms: number): Promise<void> } {
  const vt = new VirtualTimeScheduler();
  vt.maxFrames = 0;
  return Object.assign(vt, {
    async advance(ms: number): Promise<void> {
      vt.maxFrames = vt.now() + ms;
      vt.flush();
      vt.frame = vt.maxFrames; // flush stops at the last action run: the clock goes on to the target
      await new Promise((resolve) => setImmediate(resolve));
    },
  });
}
