// The identity storm, measured from outside: the built daemon with two serves; one is
// hit by N connections each sending a 1 MiB identity full of terminal escapes, the other is a
// healthy tenant (the emulator in its own process, 1,000 records/s for 5 s). Run twice: with
// our stderr read, and with it a pipe nobody reads. Prints what the storm cost: bytes written to
// stderr, the daemon's peak RSS, the healthy tenant's longest blocked send() and its delivery,
// and how long SIGTERM took. Targets are printed, never asserted.
//
//   npm run build && npx tsc -p tsconfig.bench.json && node build/bench/identityStorm.js [connections]
//
// 111 connections, 2-core machine, 2026-12-01. Baseline (3eb58cd, before the log was bounded):
// 232.8 MB of stderr, peak RSS 729 MB, the healthy tenant blocked 209 ms; with stderr unread,
// peak RSS 356 MB and still running 20 s after SIGTERM. At c9eb02f: 2.5 KB of stderr, peak RSS
// 147-155 MB (the identities the source holds), 0 ms blocked, 5000/5000 delivered,
// exit 20-38 ms after SIGTERM, stderr read or not.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join, resolve } from 'node:path';
import { encodeIdentity, encodeVersion } from '../src/protocol/encode';
import { startLogplexStandIn } from '../src/tools/logplexStandIn';
import { statusMb } from './harness/procStats';

const ROOT = resolve(__dirname, '../..'); // build/bench -> repo root
const CONNECTIONS = Number(process.argv[2] ?? '111'); // the storm's size
const PARALLEL = 20;
const IDENTITY = 'x\x1b[31m\x07'.padEnd((1 << 20) - 64, 'y'); // just under the 1 MiB record cap
const HEALTHY_RECORDS = 5000;
const SHUTDOWN_TIMEOUT_MS = 2000;
const TARGETS = { stderrBytes: 10_000, maxBlockedMs: 50, exitMs: SHUTDOWN_TIMEOUT_MS + 1000 };

const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function run(stderr: 'read' | 'unread'): Promise<Record<string, unknown>> {
  const dir = mkdtempSync('/tmp/plc-storm-');
  const stormed = join(dir, 'a.sock');
  const healthy = join(dir, 'b.sock');
  const standIn = await startLogplexStandIn();
  const markers = new Set<string>(); // a synthetic record's unique marker, once per record delivered
  standIn.received$.subscribe((b) => {
    for (const f of b.frames) for (const m of f.msg.matchAll(/marker=(\d+-\d+)/g)) markers.add(m[1] ?? '');
  });
  const serves = [{ i: 'db1', t: 't.stormed', p: stormed }, { i: 'db2', t: 't.healthy', p: healthy }];
  writeFileSync(join(dir, 'serves.new'), JSON.stringify({ serves }));
  const daemon = spawn(
    process.execPath,
    [join(ROOT, 'bin/pg-logplexcollector.js'), '--stats-interval', '0', '--shutdown-timeout', `${SHUTDOWN_TIMEOUT_MS}ms`],
    { env: { PATH: process.env.PATH, SERVE_DB_DIR: dir, LOGPLEX_URL: standIn.url }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const pid = daemon.pid ?? 0;
  let stderrBytes = 0;
  if (stderr === 'unread') daemon.stderr.pause();
  else daemon.stderr.on('data', (chunk: Buffer) => (stderrBytes += chunk.length));
  const exited = new Promise<void>((r) => daemon.once('exit', () => r()));
  let peakRssMb = 0;
  const sampler = setInterval(() => (peakRssMb = Math.max(peakRssMb, statusMb(pid, 'VmHWM') ?? 0)), 50);

  while (!existsSync(healthy) || !existsSync(stormed)) await wait(50);
  const emulator = new Promise<{ sent: number; maxBlockedMs: number }>((done, fail) =>
    execFile(
      process.execPath,
      [join(ROOT, 'bin/logfebe-emulator.js'), '--socket', healthy, '--identity', 'db2', '--records', String(HEALTHY_RECORDS), '--rate', '1000', '--json'],
      (err, out) => (err ? fail(err) : done(JSON.parse(out) as { sent: number; maxBlockedMs: number })),
    ),
  );
  await wait(500); // the healthy tenant is sending when the storm begins
  const hello = Buffer.concat([encodeVersion('PG-15.20/logfebe-1'), encodeIdentity(IDENTITY)]);
  let started = 0;
  const stormBegan = performance.now();
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      while (started < CONNECTIONS) {
        started += 1;
        await new Promise<void>((done) => {
          const c = createConnection(stormed);
          c.on('error', () => done());
          c.on('close', () => done());
          c.resume();
          c.end(hello);
        });
      }
    }),
  );
  const stormMs = performance.now() - stormBegan;
  const report = await emulator;
  const deadline = Date.now() + 10_000;
  while (markers.size < report.sent && Date.now() < deadline) await wait(50);

  const signalled = performance.now();
  daemon.kill('SIGTERM');
  const exitMs = await Promise.race([exited.then(() => performance.now() - signalled), wait(20_000).then(() => Infinity)]);
  clearInterval(sampler);
  daemon.kill('SIGKILL');
  await standIn.close();
  rmSync(dir, { recursive: true, force: true });
  return {
    stderr,
    connections: CONNECTIONS,
    stormMs: Math.round(stormMs),
    stderrBytes: stderr === 'read' ? stderrBytes : 'unread',
    peakRssMb: Math.round(peakRssMb),
    healthySent: report.sent,
    healthyDelivered: markers.size,
    healthyMaxBlockedMs: Math.round(report.maxBlockedMs),
    exitAfterSigtermMs: Number.isFinite(exitMs) ? Math.round(exitMs) : 'still running after 20 s',
    targets: `stderr <= ${TARGETS.stderrBytes} B, blocked <= ${TARGETS.maxBlockedMs} ms, exit <= ${TARGETS.exitMs} ms`,
  };
}

void (async () => {
  for (const mode of ['read', 'unread'] as const) console.log(JSON.stringify(await run(mode)));
})();
