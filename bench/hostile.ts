// What hostile peers can make the daemon hold (issue 14, items 1 and 3), measured from outside
// (/proc/<pid>/status) on the real daemon:
//   partials  200 connections each sending V, I and all but 1 KiB of a 1 MiB record
//   trickle   one connection sending a 256 KiB record one byte per write
//   lines     ten records of "a\n" x 524,000 (inside the 1 MiB record cap)
// Run: npm run bench:hostile [-- --only partials,trickle,lines]
// Prints one line per scenario: idle RSS, peak RSS (VmHWM) and what the daemon said.
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { encodeIdentity, encodeRecord, encodeVersion } from '../src/protocol/encode';
import type { LogRecord } from '../src/protocol/messages';
import { startLogplexStandIn } from '../src/tools/logplexStandIn';
import { DaemonChild } from './harness/daemon';
import { cpuSeconds, statusMb } from './harness/procStats';

const TOKEN = 't.b0b0b0b0-0000-4000-8000-000000000001';
const KEPT = new Set(['listening', 'protocol_error', 'connections_refused']);

const record = (seq: number, message: string): LogRecord => ({
  LogTime: '2026-12-01 12:00:00.000 UTC', UserName: 'u', DatabaseName: 'd', Pid: 4242, ClientAddr: '[local]',
  SessionId: '1.2', SeqNum: seq, PsDisplay: 'idle', SessionStart: '2026-12-01 11:00:00 UTC', Vxid: null, Txid: 0,
  ELevel: 15, SQLState: '00000', ErrMessage: message, ErrDetail: null, ErrHint: null, InternalQuery: null,
  InternalQueryPos: -1, ErrContext: null, UserQuery: null, UserQueryPos: -1, FileErrPos: null, ApplicationName: 'psql',
});

const handshake = Buffer.concat([encodeVersion('PG-15.20/logfebe-1'), encodeIdentity('bench')]);

function connect(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

const write = (socket: Socket, bytes: Buffer): Promise<void> =>
  new Promise((resolve) => socket.write(bytes, () => resolve())); // a write the daemon refused by closing is fine too

const settle = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const mb = (n: number | undefined): string => (n === undefined ? '?' : n.toFixed(1));

async function scenario(name: string, drive: (socketPath: string, daemon: DaemonChild) => Promise<string>): Promise<void> {
  const standIn = await startLogplexStandIn();
  const daemon = new DaemonChild({ logplexUrl: standIn.url, flags: ['--stats-interval', '0'], keepEventKinds: KEPT });
  try {
    await daemon.waitFor('started', () => daemon.count('started') === 1, 10_000);
    const socketPath = join(daemon.dir, 'bench.sock');
    await daemon.serve([{ identity: 'bench', token: TOKEN, socketPath, name: 'BENCH' }], 10_000);
    await settle(500);
    const idle = statusMb(daemon.pid, 'VmRSS');
    const cpuBefore = cpuSeconds(daemon.pid);
    const said = await drive(socketPath, daemon);
    await settle(500);
    const peak = statusMb(daemon.pid, 'VmHWM');
    const cpu = cpuSeconds(daemon.pid) - cpuBefore;
    console.log(`${name}: idle RSS ${mb(idle)} MB, peak ${mb(peak)} MB (+${mb((peak ?? 0) - (idle ?? 0))}), CPU ${cpu.toFixed(2)} s; ${said}`);
  } finally {
    await daemon.stop(15_000);
    await standIn.close();
  }
}

const scenarios: Record<string, () => Promise<void>> = {
  partials: () =>
    scenario('partials: 200 connections x (1 MiB record - 1 KiB)', async (path, daemon) => {
      const huge = encodeRecord(record(1, 'x'.repeat(1024 * 1024 - 400)));
      const mostOf = Buffer.concat([handshake, huge.subarray(0, huge.length - 1024)]);
      const sockets: Socket[] = [];
      for (let i = 0; i < 200; i++) {
        const s = await connect(path);
        s.on('error', () => undefined);
        sockets.push(s);
        await write(s, mostOf);
      }
      await settle(1000);
      const open = sockets.filter((s) => !s.destroyed && !s.readableEnded).length;
      for (const s of sockets) s.destroy();
      return `${daemon.count('protocol_error')} closed with protocol_error (LOGFEBE_PARTIAL_LIMIT), ${open} left open`;
    }),
  trickle: () =>
    scenario('trickle: a 256 KiB record one byte per write', async (path) => {
      const rec = encodeRecord(record(1, 'y'.repeat(256 * 1024 - 400)));
      const s = await connect(path);
      await write(s, handshake);
      for (let at = 0; at < rec.length - 1; at++) await write(s, rec.subarray(at, at + 1));
      s.destroy();
      return `${rec.length - 1} one-byte writes`;
    }),
  lines: () =>
    scenario('lines: 10 records of "a\\n" x 524,000', async (path) => {
      const s = await connect(path);
      await write(s, handshake);
      const statement = `statement: ${'a\n'.repeat(524_000)}`;
      for (let seq = 1; seq <= 10; seq++) await write(s, encodeRecord(record(seq, statement)));
      await settle(3000);
      s.destroy();
      return '10 records sent';
    }),
};

async function main(): Promise<void> {
  const onlyAt = process.argv.indexOf('--only');
  const only = onlyAt >= 0 ? (process.argv[onlyAt + 1] ?? '').split(',') : Object.keys(scenarios);
  for (const name of only) {
    const run = scenarios[name];
    if (run === undefined) throw new Error(`no scenario ${name}; there are ${Object.keys(scenarios).join(', ')}`);
    await run();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
