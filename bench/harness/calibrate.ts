// What the harness itself can prove: the records/s the emulator offers when nothing pushes back,
// i.e. into a unix socket server that only drains (reads and discards). A collector figure near
// this ceiling says as much about the emulator as about the collector.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareEmulatorJob, prepareEmulatorJobInChild } from './emulatorChild';

export interface Calibration {
  readonly connections: number;
  readonly recordsPerConnection: number;
  readonly recordsPerSecond: number; // sent / the emulator's own elapsed time
  readonly mbPerSecond: number;
  readonly maxBlockedMs: number;
  readonly emulatorCpuS: number;
  readonly elapsedS: number;
  readonly prepareS: number; // encoding, before the timed run
  readonly encodedMb: number;
  readonly drainedBytes: number; // what the sink read: every byte sent, or the figure is wrong
}

export async function calibrateEmulator(connections: number, recordsPerConnection: number, mode: 'child' | 'inline' = 'child'): Promise<Calibration> {
  const dir = mkdtempSync(join(tmpdir(), 'plc-calib-'));
  const socketPath = join(dir, 'drain.sock');
  let drainedBytes = 0;
  const sockets = new Set<Socket>();
  const closed: Promise<void>[] = [];
  const server = createServer((socket) => {
    sockets.add(socket);
    closed.push(new Promise((resolve) => socket.once('close', () => resolve())));
    socket.on('data', (chunk: Buffer) => (drainedBytes += chunk.length));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  try {
    const job = { serves: [{ socketPath, identity: 'calibration' }], connectionsPerServe: connections, recordsPerConnection, ratePerServe: undefined, preEncode: true, identityPadding: 'garbage' as const };
    const ready = mode === 'child' ? await prepareEmulatorJobInChild(job) : prepareEmulatorJob(job);
    const outcome = await ready.go();
    const report = outcome.reports[0];
    if (report === undefined) throw new Error('calibration: no report');
    await Promise.all(closed); // every byte drained before we count them
    return {
      connections,
      recordsPerConnection,
      recordsPerSecond: report.recordsPerSecond,
      mbPerSecond: report.bytes / 1e6 / (report.elapsedMs / 1000),
      maxBlockedMs: report.maxBlockedMs,
      emulatorCpuS: outcome.cpuSeconds,
      elapsedS: report.elapsedMs / 1000,
      prepareS: outcome.prepareS,
      encodedMb: outcome.encodedBytes / 1e6,
      drainedBytes,
    };
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  }
}
