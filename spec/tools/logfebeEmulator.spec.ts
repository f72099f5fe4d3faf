import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { encodeIdentity, encodeRecord, encodeVersion } from '../../src/protocol/encode';
import type { LogRecord } from '../../src/protocol/messages';
import { loadFixtureRecords, markerOf, prepareEmulator, runEmulator, syntheticRecord } from '../../src/tools/logfebeEmulator';
import { FIXTURE_DIR, fixtureRecords } from '../support/fixtures';

/** A plain unix-socket server that keeps every connection's bytes, in connection order. */
interface Collector {
  readonly server: Server;
  readonly connections: Buffer[][];
  readonly sockets: Socket[];
  bytesOf(i: number): Buffer;
}

function listen(path: string, onConnection?: (socket: Socket, index: number) => void): Promise<Collector> {
  const connections: Buffer[][] = [];
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    const chunks: Buffer[] = [];
    connections.push(chunks);
    sockets.push(socket);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    onConnection?.(socket, connections.length - 1);
  });
  return new Promise((resolve) => {
    server.listen(path, () =>
      resolve({ server, connections, sockets, bytesOf: (i) => Buffer.concat(connections[i] ?? []) }),
    );
  });
}

/** Splits a logfebe byte stream into [type, whole frame] pairs, checking the framing. */
function frames(bytes: Buffer): Array<[string, Buffer]> {
  const out: Array<[string, Buffer]> = [];
  let i = 0;
  while (i < bytes.length) {
    const len = bytes.readInt32BE(i + 1);
    out.push([String.fromCharCode(bytes[i] as number), bytes.subarray(i, i + 1 + len)]);
    i += 1 + len;
  }
  expect(i).toBe(bytes.length);
  return out;
}

const TEMPLATE = fixtureRecords()[0] as LogRecord;
const deterministic = (backend: number, seq: number): LogRecord => ({
  ...TEMPLATE,
  Pid: 1000 + backend,
  SeqNum: seq,
  ErrMessage: `record ${markerOf(backend, seq)} ✓`,
});

describe('logfebe emulator', () => {
  let dir: string;
  let socketPath: string;
  let collector: Collector | undefined;

  beforeEach(() => {
    dir = mkdtempSync('/tmp/plc-');
    socketPath = join(dir, 's.sock');
  });
  afterEach(async () => {
    const c = collector;
    collector = undefined;
    if (c !== undefined) {
      for (const s of c.sockets) s.destroy();
      await new Promise<void>((resolve) => c.server.close(() => resolve()));
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends exactly the encoded V, I and fixture records on one connection', async () => {
    collector = await listen(socketPath);
    const records = fixtureRecords();
    const report = await runEmulator({ socketPath, source: { kind: 'replay', records }, recordsPerConnection: records.length });
    const expected = Buffer.concat([encodeVersion('PG-15.20/logfebe-1'), encodeIdentity('test identity'), ...records.map(encodeRecord)]);
    await waitFor(() => collector?.bytesOf(0).length === expected.length);
    expect(collector.connections).toHaveLength(1);
    expect(collector.bytesOf(0).equals(expected)).toBe(true);
    expect(report).toMatchObject({ sent: records.length, lost: 0, bytes: expected.length });
    expect(report.backends[0]?.connects).toBe(1);
  });

  it('loads replay records from a fixture directory like the shared loader does', () => {
    expect(loadFixtureRecords(FIXTURE_DIR)).toEqual(fixtureRecords());
  });

  it('sends the version and identity it is given, in the exact form on request', async () => {
    collector = await listen(socketPath);
    await runEmulator({
      socketPath,
      version: 'PG-9.4.26/logfebe-1',
      identity: 'other',
      identityPadding: 'none',
      source: { kind: 'custom', record: deterministic },
      recordsPerConnection: 3,
    });
    const expected = Buffer.concat([
      encodeVersion('PG-9.4.26/logfebe-1'),
      encodeIdentity('other', { padding: 'none' }),
      ...[1, 2, 3].map((seq) => encodeRecord(deterministic(0, seq))),
    ]);
    await waitFor(() => collector?.bytesOf(0).length === expected.length);
    expect(collector.bytesOf(0).equals(expected)).toBe(true);
  });

  it('runs N connections, each sending its own records in order', async () => {
    collector = await listen(socketPath);
    const n = 6;
    const perConnection = 300;
    const report = await runEmulator({ socketPath, connections: n, recordsPerConnection: perConnection, source: { kind: 'custom', record: deterministic } });
    expect(report.sent).toBe(n * perConnection);
    expect(report.backends.map((b) => b.sent)).toEqual(new Array(n).fill(perConnection));
    await waitFor(() => collector?.connections.length === n && collector.sockets.every((s) => s.readableEnded));
    const seen = new Set<number>();
    for (let i = 0; i < n; i++) {
      const f = frames(collector.bytesOf(i));
      expect(f.map(([t]) => t).slice(0, 3)).toEqual(['V', 'I', 'L']);
      const backend = (f[2]?.[1] as Buffer).toString('latin1').match(/marker=(\d+)-1 /)?.[1];
      expect(backend).toBeDefined();
      seen.add(Number(backend));
      const expected = Array.from({ length: perConnection }, (_, k) => encodeRecord(deterministic(Number(backend), k + 1)));
      expect(Buffer.concat(f.slice(2).map(([, b]) => b)).equals(Buffer.concat(expected))).toBe(true);
    }
    expect(seen.size).toBe(n);
  });

  it('pre-encoded, sends the same bytes, one write per record, and encodes nothing after run() starts', async () => {
    collector = await listen(socketPath);
    let built = 0;
    const counting = (backend: number, seq: number): LogRecord => {
      built++;
      return deterministic(backend, seq);
    };
    const prepared = prepareEmulator({ socketPath, connections: 2, recordsPerConnection: 150, preEncode: true, source: { kind: 'custom', record: counting } });
    expect(built).toBe(300);
    expect(collector.connections).toHaveLength(0); // nothing connects before run()
    const report = await prepared.run();
    expect(built).toBe(300);
    expect(report).toMatchObject({ sent: 300, lost: 0 });
    expect(report.encodedBytes).toBe(
      [0, 1].reduce((n, b) => n + Array.from({ length: 150 }, (_, k) => encodeRecord(deterministic(b, k + 1)).length).reduce((a, l) => a + l, 0), 0),
    );
    await waitFor(() => collector?.connections.length === 2 && collector.sockets.every((s) => s.readableEnded));
    for (let i = 0; i < 2; i++) {
      const f = frames(collector.bytesOf(i));
      const backend = Number((f[2]?.[1] as Buffer).toString('latin1').match(/marker=(\d+)-1 /)?.[1]);
      const expected = Array.from({ length: 150 }, (_, k) => encodeRecord(deterministic(backend, k + 1)));
      expect(Buffer.concat(f.slice(2).map(([, b]) => b)).equals(Buffer.concat(expected))).toBe(true);
    }
  });

  it('keeps each record\'s send time when asked, in order, and none when not', async () => {
    collector = await listen(socketPath);
    const before = performance.timeOrigin + performance.now();
    const report = await runEmulator({ socketPath, recordsPerConnection: 100, preEncode: true, recordSendTimes: true });
    const after = performance.timeOrigin + performance.now();
    const times = report.backends[0]?.sentAt as Float64Array;
    expect(times).toHaveLength(101);
    expect(times[0]).toBe(0);
    for (let seq = 1; seq <= 100; seq++) {
      expect(times[seq]).toBeGreaterThanOrEqual(seq === 1 ? before : (times[seq - 1] as number));
      expect(times[seq]).toBeLessThanOrEqual(after);
    }
    const plain = await runEmulator({ socketPath, recordsPerConnection: 5 });
    expect(plain.backends[0]?.sentAt).toBeUndefined();
  });

  it('synthetic records carry unique markers and increasing SeqNum per backend', async () => {
    collector = await listen(socketPath);
    await runEmulator({ socketPath, connections: 3, recordsPerConnection: 120 });
    await waitFor(() => collector?.connections.length === 3 && collector.sockets.every((s) => s.readableEnded));
    for (let i = 0; i < 3; i++) {
      const text = collector.bytesOf(i).toString('utf8');
      const backend = Number(/marker=(\d+)-1\b/.exec(text)?.[1]);
      let at = 0;
      for (let seq = 1; seq <= 120; seq++) {
        const next = text.indexOf(`${markerOf(backend, seq)}`, at);
        expect(next).toBeGreaterThan(at);
        at = next;
      }
    }
  });

  it('makes records shaped like the fixtures: errors with detail, multi-line and over-long statements', () => {
    const shapes = Array.from({ length: 100 }, (_, k) => syntheticRecord(2, k + 1));
    expect(shapes.map((r) => r.SeqNum)).toEqual(Array.from({ length: 100 }, (_, k) => k + 1));
    expect(new Set(shapes.map((r) => r.Pid)).size).toBe(1);
    expect(shapes.some((r) => r.ELevel === 21 && r.ErrDetail !== null && r.UserQuery !== null)).toBe(true);
    expect(shapes.some((r) => (r.ErrMessage ?? '').split('\n').length > 10)).toBe(true);
    expect(Buffer.byteLength(shapes[99]?.ErrMessage ?? '')).toBeGreaterThan(10240);
    expect(shapes[99]?.LogTime).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC$/);
    for (const [k, r] of shapes.entries()) expect(r.ErrMessage).toContain(markerOf(2, k + 1));
  });

  it.each([false, true])('measures how long a write was blocked by a collector that stopped reading (preEncode %s)', async (preEncode) => {
    collector = await listen(socketPath, (socket) => {
      socket.pause();
      setTimeout(() => socket.resume(), 400);
    });
    const big = (backend: number, seq: number): LogRecord => ({ ...deterministic(backend, seq), UserQuery: 'x'.repeat(64 * 1024) });
    const report = await runEmulator({ socketPath, recordsPerConnection: 20, preEncode, source: { kind: 'custom', record: big } });
    expect(report.sent).toBe(20);
    expect(report.blockedWrites).toBeGreaterThan(0);
    expect(report.maxBlockedMs).toBeGreaterThanOrEqual(250);
    expect(report.backends[0]?.maxBlockedMs).toBe(report.maxBlockedMs);
  });

  it('feels no blocking from a collector that keeps reading small records', async () => {
    collector = await listen(socketPath);
    const report = await runEmulator({ socketPath, recordsPerConnection: 50, source: { kind: 'custom', record: deterministic } });
    expect(report.maxBlockedMs).toBeLessThan(50);
  });

  it('keeps to a rate', async () => {
    collector = await listen(socketPath);
    const report = await runEmulator({ socketPath, connections: 2, recordsPerConnection: 50, rate: 400 });
    // 100 records at 400/s: the last ones are due after ~245 ms.
    expect(report.elapsedMs).toBeGreaterThanOrEqual(230);
    expect(report.sent).toBe(100);
  });

  it('reconnects after the collector closes the connection, resending V and I, and counts losses', async () => {
    collector = await listen(socketPath, (socket, index) => {
      if (index === 0) socket.once('data', () => setTimeout(() => socket.destroy(), 30));
    });
    const report = await runEmulator({
      socketPath,
      recordsPerConnection: 40,
      rate: 400,
      reconnect: true,
      source: { kind: 'custom', record: deterministic },
    });
    const b = report.backends[0];
    expect(b?.connects).toBe(2);
    expect((b?.lost ?? 0) + (b?.sent ?? 0)).toBe(40);
    expect(b?.lost).toBeGreaterThanOrEqual(1);
    await waitFor(() => collector?.sockets[1]?.readableEnded === true);
    const second = frames(collector.bytesOf(1));
    expect(second.map(([t]) => t).slice(0, 3)).toEqual(['V', 'I', 'L']);
    expect(second[0]?.[1].equals(encodeVersion('PG-15.20/logfebe-1'))).toBe(true);
  });

  it('without reconnect, stops the backend when the connection closes', async () => {
    collector = await listen(socketPath, (socket) => socket.once('data', () => setTimeout(() => socket.destroy(), 30)));
    const report = await runEmulator({ socketPath, recordsPerConnection: 40, rate: 400 });
    expect(report.backends[0]?.connects).toBe(1);
    expect(report.backends[0]?.error).toBe('connection closed');
    expect(report.sent).toBeLessThan(40);
  });

  it('reports a refused first connection as the error of each backend', async () => {
    const report = await runEmulator({ socketPath: join(dir, 'nobody.sock'), connections: 2, recordsPerConnection: 5 });
    expect(report.sent).toBe(0);
    expect(report.backends.map((b) => b.error)).toEqual([expect.stringMatching(/ENOENT/), expect.stringMatching(/ENOENT/)]);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}
