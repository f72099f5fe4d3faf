// The emulated backends in a process of their own, so that the stand-in's event loop (in the
// bench process) answers promptly. Forked by load.ts (compiled build only). Two phases: the child
// first builds and encodes every record (preEncode) and says it is ready; only then does the
// parent start its clocks and tell it to go, so the timed run is one write per record and no
// encoding. It returns, per backend, the send time of each record (epoch ms).
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { IdentityPadding } from '../../src/protocol/encode';
import { prepareEmulator, syntheticRecord, type EmulatorReport, type PreparedEmulator } from '../../src/tools/logfebeEmulator';

export interface EmulatorJob {
  readonly serves: readonly { readonly socketPath: string; readonly identity: string }[];
  readonly connectionsPerServe: number;
  readonly recordsPerConnection: number;
  readonly ratePerServe: number | undefined;
  // false: records are built as they are sent, as before (the timed run then pays ~12 µs a record).
  readonly preEncode: boolean;
  readonly identityPadding: IdentityPadding; // 'nul' for a baseline daemon that refuses real PostgreSQL's garbage
  // true: a backend whose send fails reconnects on its next record, as pg_logfebe does (the crash scenario).
  readonly reconnect?: boolean;
}

export interface EmulatorOutcome {
  readonly reports: readonly EmulatorReport[]; // one per serve
  readonly sentAt: readonly Float64Array[]; // per global backend, index seq; 0 = never written
  readonly cpuSeconds: number; // user+system of the emulating process over the run (encoding excluded)
  readonly prepareS: number; // building and encoding before the run
  readonly encodedBytes: number;
}

/** A job whose records are built; go() runs it. */
export interface ReadyEmulator {
  readonly prepareS: number;
  readonly encodedBytes: number;
  go(): Promise<EmulatorOutcome>;
  /** Ends a job that will never go (the run failed before it). */
  cancel(): void;
}

/** Prepares a job here: the body of the child, and the in-process mode (tests, ts-jest). */
export function prepareEmulatorJob(job: EmulatorJob): ReadyEmulator {
  const t0 = performance.now();
  const emulators: PreparedEmulator[] = job.serves.map((s, i) =>
    prepareEmulator({
      socketPath: s.socketPath,
      identity: s.identity,
      connections: job.connectionsPerServe,
      recordsPerConnection: job.recordsPerConnection,
      rate: job.ratePerServe,
      preEncode: job.preEncode,
      identityPadding: job.identityPadding,
      reconnect: job.reconnect ?? false,
      recordSendTimes: true,
      // Markers and Pids are numbered across serves, as the ledger counts backends.
      source: { kind: 'custom', record: (backend, seq) => syntheticRecord(i * job.connectionsPerServe + backend, seq) },
    }),
  );
  const prepareS = (performance.now() - t0) / 1000;
  const encodedBytes = emulators.reduce((n, e) => n + e.encodedBytes, 0);
  return {
    prepareS,
    encodedBytes,
    cancel: () => undefined,
    go: async () => {
      const cpu0 = process.cpuUsage();
      const reports = await Promise.all(emulators.map((e) => e.run()));
      const cpu = process.cpuUsage(cpu0);
      const sentAt = reports.flatMap((r) => r.backends.map((b) => b.sentAt ?? new Float64Array(job.recordsPerConnection + 1)));
      // The typed arrays travel once, in sentAt; the reports go without them.
      const slim = reports.map((r) => ({ ...r, backends: r.backends.map((b) => ({ ...b, sentAt: undefined })) }));
      return { reports: slim, sentAt, cpuSeconds: (cpu.user + cpu.system) / 1e6, prepareS, encodedBytes };
    },
  };
}

type ChildMessage = { readonly kind: 'ready'; readonly prepareS: number; readonly encodedBytes: number } | ({ readonly kind: 'done' } & EmulatorOutcome);

/** Prepares a job in a forked child; resolves once its records are encoded. Typed arrays come back by structured clone ('advanced' IPC). */
export function prepareEmulatorJobInChild(job: EmulatorJob): Promise<ReadyEmulator> {
  return new Promise((resolveReady, rejectReady) => {
    const child: ChildProcess = fork(join(__dirname, 'emulatorChild.js'), [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let outcome: EmulatorOutcome | undefined;
    let ready = false;
    let resolveDone: ((o: EmulatorOutcome) => void) | undefined;
    let rejectDone: ((e: Error) => void) | undefined;
    const done = new Promise<EmulatorOutcome>((resolve, reject) => {
      resolveDone = resolve;
      rejectDone = reject;
    });
    done.catch(() => undefined); // a job that never goes may fail unobserved
    child.on('message', (raw) => {
      const m = raw as ChildMessage;
      if (m.kind === 'ready') {
        ready = true;
        resolveReady({
          prepareS: m.prepareS,
          encodedBytes: m.encodedBytes,
          go: () => {
            child.send({ kind: 'go' });
            return done;
          },
          cancel: () => {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          },
        });
      } else {
        const { kind: _kind, ...rest } = m;
        outcome = rest;
      }
    });
    const fail = (e: Error): void => (ready ? rejectDone?.(e) : rejectReady(e));
    child.once('error', fail);
    child.once('exit', (code) => (outcome !== undefined ? resolveDone?.(outcome) : fail(new Error(`emulator child exited ${code} without a report`))));
    child.send({ kind: 'job', job });
  });
}

if (require.main === module) {
  const die = (e: unknown): void => {
    process.stderr.write(`emulator child: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  };
  let ready: ReadyEmulator | undefined;
  let going = false;
  process.on('message', (raw) => {
    const m = raw as { kind: 'job'; job: EmulatorJob } | { kind: 'go' };
    if (m.kind === 'job') {
      try {
        ready = prepareEmulatorJob(m.job);
        process.send?.({ kind: 'ready', prepareS: ready.prepareS, encodedBytes: ready.encodedBytes });
      } catch (e) {
        die(e);
      }
    } else if (ready !== undefined) {
      going = true;
      ready.go().then((outcome) => process.send?.({ kind: 'done', ...outcome }, () => process.disconnect()), die);
    }
  });
  // The parent going away (a failed run) must not leave us waiting for 'go'.
  process.once('disconnect', () => {
    if (!going) process.exit(0);
  });
}
