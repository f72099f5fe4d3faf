// A pg_logfebe emulator (docs/logfebe-protocol.md): N PostgreSQL processes, each with its
// own unix-socket connection sending V, I, then one write per record, as pg_logfebe does one
// send() per record. Its point is to measure what the database would feel: how long a backend was
// blocked because the collector was not reading.
import { getMaxListeners, setMaxListeners } from 'node:events';
import { readFileSync, readdirSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { encodeIdentity, encodeRecord, encodeVersion, type IdentityPadding } from '../protocol/encode';
import type { LogRecord } from '../protocol/messages';

/** Where the records come from. */
export type RecordSource =
  | { readonly kind: 'synthetic' } // syntheticRecord(): fixture-shaped, each with a unique marker
  | { readonly kind: 'replay'; readonly records: readonly LogRecord[] } // cycled verbatim
  | { readonly kind: 'custom'; readonly record: (backend: number, seq: number) => LogRecord };

export interface EmulatorOptions {
  readonly socketPath: string; // logfebe.unix_socket
  readonly connections: number; // concurrent backends, each with its own connection
  readonly recordsPerConnection: number;
  readonly rate: number | undefined; // records/s over all backends; undefined or 0 = as fast as the socket takes them
  readonly identity: string; // logfebe.identity
  readonly version: string; // the whole V string
  // What follows the identity's NUL: pg_logfebe's 3 bytes of whatever memory held ('garbage'),
  // 3 NULs, or nothing. Real PostgreSQL is the default: our tools are never kinder than it.
  readonly identityPadding: IdentityPadding;
  readonly source: RecordSource;
  readonly reconnect: boolean; // after a failed send, reconnect and resend V/I on the next record, like pg_logfebe
  readonly basePid: number; // synthetic backend b has Pid basePid + b
  readonly signal: AbortSignal | undefined; // stops every backend after its current record
  // Build and encode every record before the run starts (prepareEmulator), so that the timed loop
  // only writes: building and encoding cost ~12 µs a record, more than a PostgreSQL backend spends
  // on logging, and would otherwise cap the offered load (and take CPU from the collector).
  readonly preEncode: boolean;
  // Keep each record's send time (BackendReport.sentAt): a Float64Array store per write, for latency.
  readonly recordSendTimes: boolean;
}

/** Defaults for every option, in one place. */
export const DEFAULT_EMULATOR_OPTIONS: Omit<EmulatorOptions, 'socketPath'> = {
  connections: 1,
  recordsPerConnection: 1000,
  rate: undefined,
  identity: 'test identity', // what the fixtures were captured with
  version: 'PG-15.20/logfebe-1',
  identityPadding: 'garbage',
  source: { kind: 'synthetic' },
  reconnect: false, // tests of ordering want a closed connection to stop the backend
  basePid: 20000,
  signal: undefined,
  preEncode: false, // tests and the CLI want records built as they go (LogTime = send time)
  recordSendTimes: false,
};

// Without a rate, a backend yields to the event loop this often, so that N backends interleave
// (and a collector in the same process gets to read) instead of one finishing before the next starts.
const YIELD_EVERY_RECORDS = 64;

export interface BackendReport {
  readonly backend: number; // 0-based
  readonly connects: number; // successful connections (more than 1 only with reconnect)
  readonly sent: number; // records the kernel accepted
  readonly lost: number; // records dropped on this side: send failed or no connection, as pg_logfebe does
  readonly bytes: number; // bytes of V, I and L accepted by the kernel
  readonly blockedWrites: number; // writes the kernel did not take at once (a real send() would block)
  readonly maxBlockedMs: number; // the longest such block: what the database would have felt
  readonly totalBlockedMs: number;
  readonly error: string | undefined; // why the backend stopped early, if it did
  // With recordSendTimes: index seq, epoch ms (performance.timeOrigin + now) just before the
  // record's write was attempted (a failed one, counted in lost, keeps its time); 0 = never tried.
  readonly sentAt: Float64Array | undefined;
}

export interface EmulatorReport {
  readonly backends: readonly BackendReport[];
  readonly sent: number;
  readonly lost: number;
  readonly bytes: number;
  readonly blockedWrites: number;
  readonly maxBlockedMs: number; // over all backends
  readonly elapsedMs: number;
  readonly recordsPerSecond: number; // sent / elapsed
  readonly encodedBytes: number; // records encoded before the run (preEncode), V and I excluded
}

/** The marker a synthetic record carries in its ErrMessage, to find it again downstream. */
export function markerOf(backend: number, seq: number): string {
  return `marker=${backend}-${seq}`;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** `2026-11-25 01:43:51.596 UTC`, as PostgreSQL's log_timezone = UTC prints it. */
export function pgLogTime(d: Date): string {
  return (
    `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)} UTC`
  );
}

const SESSION_START = new Date();
const SESSION_START_TEXT = pgLogTime(SESSION_START).replace(/\.\d{3} /, ' '); // %Y-%m-%d %H:%M:%S %Z

// Formatting a date per record costs more than encoding it: records of one millisecond share it.
let logTimeMs = -1;
let logTimeText = '';
function logTimeNow(): string {
  const now = Date.now();
  if (now !== logTimeMs) {
    logTimeMs = now;
    logTimeText = pgLogTime(new Date(now));
  }
  return logTimeText;
}

/** One fixture-shaped record from backend `backend`, line `seq` (from 1). Pure but for LogTime. */
export function syntheticRecord(backend: number, seq: number, basePid = DEFAULT_EMULATOR_OPTIONS.basePid): LogRecord {
  const pid = basePid + backend;
  const marker = markerOf(backend, seq);
  const base: LogRecord = {
    LogTime: logTimeNow(),
    UserName: 'postgres',
    DatabaseName: 'postgres',
    Pid: pid,
    ClientAddr: '[local]',
    SessionId: `${Math.floor(SESSION_START.getTime() / 1000).toString(16)}.${pid.toString(16)}`,
    SeqNum: seq,
    PsDisplay: 'idle',
    SessionStart: SESSION_START_TEXT,
    Vxid: `${backend + 3}/${seq}`,
    Txid: 0,
    ELevel: 15,
    SQLState: '00000',
    ErrMessage: `statement: select ${seq} -- ${marker}`,
    ErrDetail: null,
    ErrHint: null,
    InternalQuery: null,
    InternalQueryPos: -1,
    ErrContext: null,
    UserQuery: null,
    UserQueryPos: -1,
    FileErrPos: null,
    ApplicationName: 'pgbench',
  };
  // A mix like the fixtures': mostly statements, some errors with detail, some long multi-line
  // statements; now and then one past logplex's 10240-byte frame, which the sink must split.
  if (seq % 100 === 0) {
    const line = `  'ü✓ ${'x'.repeat(60)}',\n`;
    return { ...base, ErrMessage: `statement: select -- ${marker}\n${line.repeat(200)}  1;` };
  }
  if (seq % 10 === 0) {
    const cols = Array.from({ length: 20 }, (_, i) => `  col_${i} + ${seq} as "c${i}"`).join(',\n');
    return { ...base, PsDisplay: 'SELECT', ErrMessage: `statement: select\n${cols}\nfrom t -- ${marker}` };
  }
  if (seq % 7 === 0) {
    return {
      ...base,
      PsDisplay: 'INSERT',
      Txid: 700 + seq,
      ELevel: 21,
      SQLState: '23505',
      ErrMessage: `duplicate key value violates unique constraint "t_pkey" ${marker}`,
      ErrDetail: `Key (x)=(${seq}) already exists.`,
      UserQuery: `insert into t values (${seq}),(${seq});`,
      UserQueryPos: 0,
    };
  }
  if (seq % 5 === 0) {
    return {
      ...base,
      ELevel: 19,
      SQLState: '01000',
      ErrMessage: `this is a warning ${marker}`,
      ErrDetail: 'some detail',
      ErrHint: 'a hint',
      ErrContext: 'PL/pgSQL function inline_code_block line 1 at RAISE',
      UserQuery: `do $$ begin raise warning 'this is a warning'; end $$;`,
    };
  }
  return base;
}

/** Every `L` record of every *.json fixture in `dir`, in file order, for replay. */
export function loadFixtureRecords(dir: string): LogRecord[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .flatMap((f) =>
      readFileSync(join(dir, f), 'utf8')
        .split('\n')
        .filter((line) => line.trim() !== '')
        .flatMap((line) => {
          const m = JSON.parse(line) as { type: string } & LogRecord;
          if (m.type !== 'L') return [];
          const { type: _type, ...record } = m;
          return [record as LogRecord];
        }),
    );
}

export interface BackendOptions extends Omit<EmulatorOptions, 'connections' | 'rate'> {
  readonly backend: number;
  readonly rate: number | undefined; // this backend's own records/s
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
/** Epoch ms with sub-ms precision: the clock the bench's ledger reads on its side of the process boundary. */
const epochMs = (): number => performance.timeOrigin + performance.now();

function connect(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** How one write went. */
interface WriteOutcome {
  readonly ok: boolean;
  readonly blockedMs: number | undefined; // undefined when the kernel took it at once
}

// The outcomes of writes that did not wait, shared: the fast path allocates no result.
const TAKEN: WriteOutcome = { ok: true, blockedMs: undefined };
const FAILED: WriteOutcome = { ok: false, blockedMs: undefined };

/**
 * Writes like a blocking send(): if the kernel did not take all the bytes at once (Node queued
 * some), waits until it has, and times that wait. We look at writableLength rather than waiting
 * for 'drain', because 'drain' only comes once Node's own 16 KiB queue is full, and a real
 * backend has no such queue: it blocks as soon as the kernel buffer is full. Returns a plain
 * outcome when it did not wait, so that the caller's fast path has no promise to await.
 */
function blockingWrite(socket: Socket, bytes: Buffer): Promise<WriteOutcome> | WriteOutcome {
  if (socket.destroyed || !socket.writable) return FAILED;
  let done: ((o: WriteOutcome) => void) | undefined;
  const started = performance.now();
  socket.write(bytes, (err) => done?.({ ok: err === undefined || err === null, blockedMs: performance.now() - started }));
  // A failed send (EPIPE: the collector went away) destroys the socket before write() returns.
  if (socket.destroyed) return FAILED;
  if (socket.writableLength === 0) return TAKEN;
  return new Promise((resolve) => {
    // A socket destroyed while we wait never calls back the write: treat it as a failed send.
    const onClose = (): void => resolve({ ok: false, blockedMs: performance.now() - started });
    socket.once('close', onClose);
    done = (outcome) => {
      socket.off('close', onClose);
      resolve(outcome);
    };
  });
}

/**
 * One backend's records encoded back to back in one buffer, with their offsets: one allocation
 * per backend instead of one per record, so that 400k records in memory weigh on neither the
 * emulator's GC nor its RSS more than their bytes. Record seq (from 1) is
 * bytes[offsets[seq - 1], offsets[seq]).
 */
interface EncodedRecords {
  readonly bytes: Buffer;
  readonly offsets: Float64Array;
}

function encodeAll(count: number, encode: (seq: number) => Buffer): EncodedRecords {
  const parts: Buffer[] = new Array<Buffer>(count);
  const offsets = new Float64Array(count + 1);
  let total = 0;
  for (let seq = 1; seq <= count; seq++) {
    const b = encode(seq);
    parts[seq - 1] = b;
    total += b.length;
    offsets[seq] = total;
  }
  return { bytes: Buffer.concat(parts, total), offsets };
}

/** A backend whose records are ready (encoded, with preEncode); run() is the timed part. */
export interface PreparedBackend {
  readonly encodedBytes: number;
  run(): Promise<BackendReport>;
}

/** Encodes a backend's records now if preEncode asks for it; nothing is sent until run(). */
export function prepareBackend(options: BackendOptions): PreparedBackend {
  const o = options;
  const startup = Buffer.concat([encodeVersion(o.version), encodeIdentity(o.identity, { padding: o.identityPadding })]);
  const replayEncoded = o.source.kind === 'replay' ? o.source.records.map(encodeRecord) : undefined;
  const encodeOne = (seq: number): Buffer => {
    switch (o.source.kind) {
      case 'replay':
        // Every backend replays the same sequence from its start, verbatim (Pid and SeqNum included).
        return (replayEncoded as Buffer[])[(seq - 1) % (replayEncoded as Buffer[]).length] as Buffer;
      case 'synthetic':
        return encodeRecord(syntheticRecord(o.backend, seq, o.basePid));
      case 'custom':
        return encodeRecord(o.source.record(o.backend, seq));
    }
  };
  // Replay is encoded once already; synthetic and custom records are built here, LogTime included
  // (so with preEncode a record's LogTime is when it was built, before the run).
  const pre = o.preEncode && o.source.kind !== 'replay' ? encodeAll(o.recordsPerConnection, encodeOne) : undefined;
  const recordBytes =
    pre === undefined ? encodeOne : (seq: number): Buffer => pre.bytes.subarray(pre.offsets[seq - 1] as number, pre.offsets[seq] as number);
  return {
    encodedBytes: pre?.bytes.length ?? 0,
    run: () => sendRecords(o, startup, recordBytes),
  };
}

/** One PostgreSQL process: connects, sends V and I, then its records, one write each. */
export function emulateBackend(options: BackendOptions): Promise<BackendReport> {
  return prepareBackend(options).run();
}

async function sendRecords(o: BackendOptions, startup: Buffer, recordBytes: (seq: number) => Buffer): Promise<BackendReport> {
  let socket: Socket | undefined;
  let connects = 0;
  let sent = 0;
  let lost = 0;
  let bytes = 0;
  let blockedWrites = 0;
  let maxBlockedMs = 0;
  let totalBlockedMs = 0;
  let error: string | undefined;
  const sentAt = o.recordSendTimes ? new Float64Array(o.recordsPerConnection + 1) : undefined;
  const interval = o.rate !== undefined && o.rate > 0 ? 1000 / o.rate : 0;
  const started = performance.now();
  // Aborting must also free a backend blocked in a write, or a stuck collector would hold it forever.
  const onAbort = (): void => {
    socket?.destroy();
  };
  o.signal?.addEventListener('abort', onAbort, { once: true });

  const account = (outcome: WriteOutcome, length: number): boolean => {
    if (outcome.blockedMs !== undefined) {
      blockedWrites++;
      totalBlockedMs += outcome.blockedMs;
      maxBlockedMs = Math.max(maxBlockedMs, outcome.blockedMs);
    }
    if (outcome.ok) bytes += length;
    return outcome.ok;
  };
  // Awaits only a write that blocked: a promise per record would cost the loop more than the write.
  const send = async (buf: Buffer): Promise<boolean> => {
    if (socket === undefined) return false;
    const pending = blockingWrite(socket, buf);
    return account(pending instanceof Promise ? await pending : pending, buf.length);
  };
  const dropConnection = (): void => {
    socket?.destroy();
    socket = undefined;
  };

  try {
    for (let seq = 1; seq <= o.recordsPerConnection; seq++) {
      if (o.signal?.aborted === true) {
        error = 'aborted';
        break;
      }
      if (interval > 0) {
        const wait = started + (seq - 1) * interval - performance.now();
        if (wait >= 1) await sleep(wait);
      } else if (seq % YIELD_EVERY_RECORDS === 0) await yieldToLoop();

      const record = recordBytes(seq);
      if (socket === undefined) {
        // pg_logfebe connects lazily, on the record it wants to send, and starts over with V and I.
        if (connects > 0 && !o.reconnect) {
          error = 'connection closed';
          break;
        }
        try {
          socket = await connect(o.socketPath);
          // The collector never writes to us; a destroyed socket is noticed by the next write.
          socket.on('error', () => undefined);
          connects++;
        } catch (e) {
          if (!o.reconnect) throw e;
          lost++;
          continue;
        }
        if (!(await send(startup))) {
          dropConnection();
          lost++;
          continue;
        }
      }
      if (sentAt !== undefined) sentAt[seq] = epochMs();
      const pending = blockingWrite(socket, record);
      const ok = account(pending instanceof Promise ? await pending : pending, record.length);
      if (ok) sent++;
      else {
        // As pg_logfebe: the record is lost, the socket closed silently, the next record reconnects.
        lost++;
        dropConnection();
      }
    }
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
  }

  o.signal?.removeEventListener('abort', onAbort);
  if (socket !== undefined) {
    const s = socket;
    // end() flushes what the kernel has not taken yet; its callback says the last byte left. We
    // do not wait for the collector to close its side: it may keep half-open sockets.
    await new Promise<void>((resolve) => {
      if (s.destroyed) return resolve();
      s.once('close', () => resolve());
      s.end(() => s.destroy());
    });
  }
  return { backend: o.backend, connects, sent, lost, bytes, blockedWrites, maxBlockedMs, totalBlockedMs, error, sentAt };
}

/** Every backend of a run, encoded (with preEncode) and ready to start. */
export interface PreparedEmulator {
  readonly encodedBytes: number;
  readonly prepareMs: number; // what encoding took, outside the timed run
  run(): Promise<EmulatorReport>;
}

/** Builds (and with preEncode, encodes) every backend's records; run() starts them all at once. */
export function prepareEmulator(options: Partial<EmulatorOptions> & Pick<EmulatorOptions, 'socketPath'>): PreparedEmulator {
  const o: EmulatorOptions = { ...DEFAULT_EMULATOR_OPTIONS, ...options };
  const perBackendRate = o.rate !== undefined && o.rate > 0 ? o.rate / o.connections : undefined;
  const t0 = performance.now();
  const prepared = Array.from({ length: o.connections }, (_, backend) => prepareBackend({ ...o, backend, rate: perBackendRate }));
  const prepareMs = performance.now() - t0;
  const encodedBytes = prepared.reduce((n, p) => n + p.encodedBytes, 0);
  return {
    encodedBytes,
    prepareMs,
    run: async () => {
      // Every backend listens for the same stop: past 10 of them node warned of a listener leak.
      if (o.signal !== undefined) setMaxListeners(getMaxListeners(o.signal) + o.connections, o.signal);
      const started = performance.now();
      const backends = await Promise.all(prepared.map((p) => p.run()));
      const elapsedMs = performance.now() - started;
      const sum = (f: (b: BackendReport) => number): number => backends.reduce((acc, b) => acc + f(b), 0);
      const sent = sum((b) => b.sent);
      return {
        backends,
        sent,
        lost: sum((b) => b.lost),
        bytes: sum((b) => b.bytes),
        blockedWrites: sum((b) => b.blockedWrites),
        maxBlockedMs: backends.reduce((m, b) => Math.max(m, b.maxBlockedMs), 0),
        elapsedMs,
        recordsPerSecond: elapsedMs > 0 ? (sent * 1000) / elapsedMs : 0,
        encodedBytes,
      };
    },
  };
}

/** Runs `connections` backends at once and sums up what they felt. */
export function runEmulator(options: Partial<EmulatorOptions> & Pick<EmulatorOptions, 'socketPath'>): Promise<EmulatorReport> {
  return prepareEmulator(options).run();
}
