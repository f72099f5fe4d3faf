// The emulated backends in a process of their own. At 60k+ records/s the emulator's encoding
// fills most of a core; sharing that event loop with the stand-in delays every 204 and makes the
// collector's posts look slow. Forked by load.ts (compiled build only), it sends records with the
// same synthetic source and returns, per backend, the send time of each record (epoch ms).
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { runEmulator, syntheticRecord, type EmulatorReport } from '../../src/tools/logfebeEmulator';
import { nowMs } from './ledger';

export interface EmulatorJob {
  readonly serves: readonly { readonly socketPath: string; readonly identity: string }[];
  readonly connectionsPerServe: number;
  readonly recordsPerConnection: number;
  readonly ratePerServe: number | undefined;
}

export interface EmulatorOutcome {
  readonly reports: readonly EmulatorReport[]; // one per serve
  readonly sentAt: readonly Float64Array[]; // per global backend, index seq; 0 = never written
  readonly cpuSeconds: number; // user+system of the emulating process over the job
}

/** Runs a job here: the body of the child, and the in-process mode (tests, ts-jest). */
export async function runEmulatorJob(job: EmulatorJob, onSent?: (backend: number, seq: number, at: number) => void): Promise<EmulatorOutcome> {
  const cpu0 = process.cpuUsage();
  const sentAt = Array.from({ length: job.serves.length * job.connectionsPerServe }, () => new Float64Array(job.recordsPerConnection + 1));
  const reports = await Promise.all(
    job.serves.map((s, i) =>
      runEmulator({
        socketPath: s.socketPath,
        identity: s.identity,
        connections: job.connectionsPerServe,
        recordsPerConnection: job.recordsPerConnection,
        rate: job.ratePerServe,
        source: {
          kind: 'custom',
          // Called just before the record's write: that instant is the send time.
          record: (backend, seq) => {
            const global = i * job.connectionsPerServe + backend;
            const at = nowMs();
            (sentAt[global] as Float64Array)[seq] = at;
            onSent?.(global, seq, at);
            return syntheticRecord(global, seq);
          },
        },
      }),
    ),
  );
  const cpu = process.cpuUsage(cpu0);
  return { reports, sentAt, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

/** Runs a job in a forked child; the typed arrays come back by structured clone ('advanced' IPC). */
export function runEmulatorJobInChild(job: EmulatorJob): Promise<EmulatorOutcome> {
  return new Promise((resolve, reject) => {
    const child = fork(join(__dirname, 'emulatorChild.js'), [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let outcome: EmulatorOutcome | undefined;
    child.once('message', (m) => (outcome = m as EmulatorOutcome));
    child.once('error', reject);
    child.once('exit', (code) => (outcome !== undefined ? resolve(outcome) : reject(new Error(`emulator child exited ${code} without a report`))));
    child.send(job);
  });
}

if (require.main === module) {
  process.once('message', (job) => {
    runEmulatorJob(job as EmulatorJob).then(
      (outcome) => process.send?.(outcome, () => process.disconnect()),
      (e: unknown) => {
        process.stderr.write(`emulator child: ${e instanceof Error ? e.message : String(e)}\n`);
        process.exit(1);
      },
    );
  });
}
