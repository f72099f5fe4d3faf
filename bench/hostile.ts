// What hostile peers can make the daemon hold, and cost its tenants, measured from outside
// (/proc/<pid>/status, the stand-in's count of frames per token) on the real daemon:
//   partials  200 connections each sending V, I and all but 1 KiB of a 1 MiB record (--partial-cap 64 MiB);
//             the RSS it costs is printed against the cap
//   trickle   one connection sending a 256 KiB record one byte per write
//   lines     ten records of "a\n" x 524,000 (inside the 1 MiB record cap)
//   flood     1,100 silent connections to a tenant's socket (anyone may connect to a 0777 one),
//             each re-opened when the daemon closes it, while the tenant's backends connect,
//             log and disconnect: the share of the tenant's records lost
//   fds       under `ulimit -n 256` and --fd-reserve 32, 400 idle (identified) connections to serve A; serve B,
//             holding none, connects ten times and writes one record each, as pg_logfebe does
// Run: npm run bench:hostile [-- --only partials,trickle,lines,flood,fds] [--root DIR]
// (--root: the checkout whose bin/ and built dist/ run, e.g. a worktree of the baseline commit)
// Prints one line per scenario: idle RSS, peak RSS (VmHWM) and what the daemon said or delivered.
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { encodeIdentity, encodeRecord, encodeVersion } from '../src/protocol/encode';
import type { LogRecord } from '../src/protocol/messages';
import { startLogplexStandIn } from '../src/tools/logplexStandIn';
import { DaemonChild } from './harness/daemon';
import { cpuSeconds, statusMb } from './harness/procStats';

const TOKEN = 't.b0b0b0b0-0000-4000-8000-000000000001';
const OTHER_TOKEN = 't.b0b0b0b0-0000-4000-8000-000000000002';
const PARTIAL_CAP = 64 * 1024 * 1024; // the default --partial-cap, given explicitly
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

const rootArg = (): string | undefined => {
  const at = process.argv.indexOf('--root');
  return at >= 0 ? process.argv[at + 1] : undefined;
};

const settle = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const mb = (n: number | undefined): string => (n === undefined ? '?' : n.toFixed(1));

interface Bed {
  readonly socketPath: string; // serve BENCH (identity bench, TOKEN)
  readonly otherPath: string; // serve OTHER (identity other, OTHER_TOKEN)
  readonly daemon: DaemonChild;
  readonly delivered: (token: string) => number; // frames the stand-in accepted for the token
}

async function scenario(
  name: string,
  drive: (bed: Bed) => Promise<string>,
  setup: { readonly flags?: readonly string[]; readonly openFiles?: number; readonly partialCap?: number } = {},
): Promise<void> {
  const standIn = await startLogplexStandIn();
  const daemon = new DaemonChild({
    root: rootArg(),
    logplexUrl: standIn.url,
    flags: ['--stats-interval', '0', ...(setup.flags ?? [])],
    keepEventKinds: KEPT,
    openFiles: setup.openFiles,
  });
  try {
    await daemon.waitFor('started', () => daemon.count('started') === 1, 10_000);
    const socketPath = join(daemon.dir, 'bench.sock');
    const otherPath = join(daemon.dir, 'other.sock');
    await daemon.serve(
      [
        { identity: 'bench', token: TOKEN, socketPath, name: 'BENCH' },
        { identity: 'other', token: OTHER_TOKEN, socketPath: otherPath, name: 'OTHER' },
      ],
      10_000,
    );
    await settle(500);
    const idle = statusMb(daemon.pid, 'VmRSS');
    const cpuBefore = cpuSeconds(daemon.pid);
    const said = await drive({ socketPath, otherPath, daemon, delivered: (token) => standIn.stats().framesByToken[token] ?? 0 });
    await settle(500);
    const peak = statusMb(daemon.pid, 'VmHWM');
    const cpu = cpuSeconds(daemon.pid) - cpuBefore;
    const growth = (peak ?? 0) - (idle ?? 0);
    // Against what the partials may hold by the flag: the rest is what holding them costs besides.
    const cap = setup.partialCap;
    const against = cap === undefined ? '' : ` = ${(growth / (cap / 1e6)).toFixed(2)}x the --partial-cap of ${mb(cap / 1e6)} MB (${mb(growth - cap / 1e6)} MB beyond it)`;
    console.log(`${name}: idle RSS ${mb(idle)} MB, peak ${mb(peak)} MB (+${mb(growth)}${against}), CPU ${cpu.toFixed(2)} s; ${said}`);
  } finally {
    await daemon.stop(15_000);
    await standIn.close();
  }
}

const scenarios: Record<string, () => Promise<void>> = {
  partials: () =>
    scenario('partials: 200 connections x (1 MiB record - 1 KiB)', async ({ socketPath: path, daemon }) => {
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
    }, { flags: ['--partial-cap', String(PARTIAL_CAP)], partialCap: PARTIAL_CAP }),
  trickle: () =>
    scenario('trickle: a 256 KiB record one byte per write', async ({ socketPath: path }) => {
      const rec = encodeRecord(record(1, 'y'.repeat(256 * 1024 - 400)));
      const s = await connect(path);
      await write(s, handshake);
      for (let at = 0; at < rec.length - 1; at++) await write(s, rec.subarray(at, at + 1));
      s.destroy();
      return `${rec.length - 1} one-byte writes`;
    }),
  lines: () =>
    scenario('lines: 10 records of "a\\n" x 524,000', async ({ socketPath: path }) => {
      const s = await connect(path);
      await write(s, handshake);
      const statement = `statement: ${'a\n'.repeat(524_000)}`;
      for (let seq = 1; seq <= 10; seq++) await write(s, encodeRecord(record(seq, statement)));
      await settle(3000);
      s.destroy();
      return '10 records sent';
    }),
  flood: () =>
    scenario(
      'flood: 1,100 silent connections re-opened as they close, tenant backends logging meanwhile',
      async ({ socketPath, daemon, delivered }) => {
        let flooding = true;
        let opened = 0;
        const silent = (): void => {
          if (!flooding) return;
          opened++;
          const s = createConnection(socketPath);
          s.on('error', () => undefined);
          s.on('close', () => setImmediate(silent)); // closed by the daemon (or refused): straight back
        };
        for (let i = 0; i < 1100; i++) silent();
        await settle(2000); // the flood in place before the tenant logs
        const before = delivered(TOKEN);
        let sent = 0;
        let seq = 0;
        const until = performance.now() + 8000;
        while (performance.now() < until) {
          // Eight backends at a time, each connecting, logging five records and leaving.
          await Promise.all(
            Array.from({ length: 8 }, async () => {
              let s: Socket;
              try {
                s = await connect(socketPath);
              } catch {
                sent += 5; // refused at connect: its records are lost
                return;
              }
              s.on('error', () => undefined);
              const records = Array.from({ length: 5 }, () => encodeRecord(record(++seq, `tenant line ${seq}`)));
              sent += records.length;
              await write(s, Buffer.concat([handshake, ...records]));
              await settle(20);
              s.end();
            }),
          );
        }
        const deadline = performance.now() + 10_000;
        while (delivered(TOKEN) - before < sent && performance.now() < deadline) await settle(100);
        flooding = false;
        const got = delivered(TOKEN) - before;
        const refused = daemon.events.filter((e) => e.event === 'connections_refused');
        const reasons = [...new Set(refused.map((e) => String(e.reason)))].join(',') || 'none';
        return `tenant lost ${(100 * (1 - got / sent)).toFixed(1)}% (${sent - got} of ${sent} records); ${opened} silent connections opened; connections_refused reasons: ${reasons}`;
      },
      { flags: ['--flush-interval', '100ms', '--handshake-timeout', '2s'] },
    ),
  fds: () =>
    scenario(
      'fds: ulimit -n 256, --fd-reserve 32, 400 idle identified connections to serve A, serve B reconnecting',
      async ({ socketPath, otherPath, delivered }) => {
        // Idle backends that identified: only sharing descriptors fairly lets B in.
        const idle: Socket[] = [];
        for (let i = 0; i < 400; i++) {
          const s = createConnection(socketPath);
          s.on('error', () => undefined);
          s.once('connect', () => s.write(handshake));
          idle.push(s);
        }
        await settle(1000);
        let sentB = 0;
        for (let seq = 1; seq <= 10; seq++) {
          try {
            const s = await connect(otherPath);
            s.on('error', () => undefined);
            await write(s, Buffer.concat([Buffer.concat([encodeVersion('PG-15.20/logfebe-1'), encodeIdentity('other')]), encodeRecord(record(seq, `B line ${seq}`))]));
            sentB++;
            await settle(50);
            s.end();
          } catch {
            // refused at connect
          }
        }
        const deadline = performance.now() + 10_000;
        while (delivered(OTHER_TOKEN) < 10 && performance.now() < deadline) await settle(100);
        const openA = idle.filter((s) => !s.destroyed && !s.readableEnded).length;
        for (const s of idle) s.destroy();
        return `serve B delivered ${delivered(OTHER_TOKEN)} of 10 records (${sentB} written); ${openA} of A's 400 connections still open`;
      },
      { flags: ['--flush-interval', '100ms', '--fd-reserve', '32'], openFiles: 256 },
    ),
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
