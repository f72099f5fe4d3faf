// One end-to-end run: stand-in (in this process) ← real daemon (child) ← emulated backends (in
// this process), with the ledger matching markers at the stand-in and /proc watching the child.
// Scenarios differ only in sizes, flags and what they do to the stand-in while the load runs.
import { join } from 'node:path';
import type { EmulatorReport } from '../../src/tools/logfebeEmulator';
import { startLogplexStandIn, type AcceptedBody, type LogplexStandIn, type StandInMode, type StandInStats } from '../../src/tools/logplexStandIn';
import { prepareEmulatorJob, prepareEmulatorJobInChild, type EmulatorJob, type ReadyEmulator } from './emulatorChild';
import { DaemonChild, DEFAULT_KEPT_EVENTS, type DaemonExit, type ServeSpec } from './daemon';
import { MarkerLedger, nowMs, type LedgerSummary } from './ledger';
import { DEFAULT_HARNESS_OPTIONS, type HarnessOptions } from './options';
import { cpuSeconds, RssSampler, statusMb, type RssSample } from './procStats';

export interface LoadSpec {
  readonly serves: number;
  readonly connectionsPerServe: number;
  readonly recordsPerConnection: number;
  readonly rate: number | undefined; // records/s over all connections; undefined = as fast as the sockets take them
  readonly collectorFlags: readonly string[];
  readonly initialMode?: StandInMode;
  readonly rssSampleMs?: number;
  // `child` (default): backends in a forked process, so the stand-in's event loop is its own.
  // `inline`: in this process (ts-jest, which cannot fork a .ts file); fine below ~10k records/s.
  readonly emulator?: 'child' | 'inline';
  readonly reconnect?: boolean; // backends reconnect after a failed send (pg_logfebe's behaviour)
  /** When the collector has settled, from its stats line; default: read all that was sent, holds nothing. */
  readonly settled?: (stats: Readonly<Record<string, unknown>>, sent: number) => boolean;
  // Encode every record before the timed run (default true): the run then offers 100k+ records/s.
  readonly preEncode?: boolean;
  /** Runs alongside the load (outage choreography); the run settles only after both ended. */
  readonly during?: (ctx: LoadContext) => Promise<void>;
}

export interface LoadContext {
  readonly standIn: LogplexStandIn;
  readonly daemon: DaemonChild; // the one running now (see restarted)
  /** The daemon was replaced (a crash and a restart): settling, stats and stopping follow the new one. */
  restarted(daemon: DaemonChild): void;
  readonly ledger: MarkerLedger;
  readonly startedAt: number; // nowMs() when the load began
  onBody(observer: (accepted: AcceptedBody, at: number) => void): void;
}

export interface LoadResult {
  readonly settled: boolean; // false: the collector still held data at the settle timeout
  readonly wallS: number; // load start → settled
  readonly ledger: LedgerSummary;
  readonly markers: MarkerLedger; // for questions the summary does not answer (which records are missing)
  readonly emulator: Pick<EmulatorReport, 'sent' | 'lost' | 'blockedWrites' | 'maxBlockedMs' | 'elapsedMs' | 'recordsPerSecond'> & {
    readonly errors: readonly string[];
    readonly cpuSeconds: number; // the emulating process over the run (this one when inline: then also in bench)
    readonly prepareS: number; // building and encoding the records, before the run
    readonly encodedMb: number;
  };
  readonly deliveredRecordsPerSecond: number; // distinct markers / (last body − first send)
  readonly collector: {
    readonly pid: number;
    readonly cpuSeconds: number; // utime+stime over the load window
    readonly cpuMicrosPerRecord: number; // per record delivered
    readonly cpuMicrosPerRecordRead: number; // per record the collector read (differs when it dropped some)
    readonly peakRssMb: number; // VmHWM at the end of the load: the process's lifetime peak
    readonly maxSampledRssMb: number;
    readonly maxSampledAnonMb: number; // RssAnon: RSS without node's file-backed pages
    readonly idleRssMb: number; // VmRSS right after start-up (serves listening), before any load
    readonly idleAnonMb: number; // RssAnon at the same instant
    readonly idleHwmMb: number; // VmHWM then: start-up's own peak
    readonly peakGrowthMb: number; // peakRssMb − idleRssMb: what the load added to the lifetime peak
    readonly anonGrowthMb: number; // maxSampledAnonMb − idleAnonMb
    readonly rssSamples: readonly RssSample[];
    readonly stats: Readonly<Record<string, unknown>> | undefined; // its last stats line
    readonly droppedAnnounced: number; // sum of `drop phase=announced count=N`
    readonly eventCounts: Readonly<Record<string, number>>;
    readonly exit: DaemonExit;
  };
  readonly bench: { readonly cpuSeconds: number; readonly cpuShare: number }; // this process: the stand-in (and the emulator when inline)
  readonly standIn: StandInStats;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export const tokenOfServe = (i: number): string => `t.00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

export async function runLoad(spec: LoadSpec, harness: HarnessOptions = DEFAULT_HARNESS_OPTIONS): Promise<LoadResult> {
  const backends = spec.serves * spec.connectionsPerServe;
  const serveOf = (backend: number): number => Math.floor(backend / spec.connectionsPerServe);
  const ledger = new MarkerLedger(backends, spec.recordsPerConnection, (b) => tokenOfServe(serveOf(b)));
  const observers: ((a: AcceptedBody, at: number) => void)[] = [];
  const standIn = await startLogplexStandIn({
    tokens: Array.from({ length: spec.serves }, (_, i) => tokenOfServe(i)),
    onBody: (accepted) => {
      const at = nowMs();
      ledger.onBody(accepted, at);
      for (const o of observers) o(accepted, at);
    },
  });
  let daemon = new DaemonChild({
    logplexUrl: standIn.url,
    flags: ['--stats-interval', `${harness.statsIntervalMs}ms`, ...spec.collectorFlags, ...harness.extraCollectorFlags],
    keepEventKinds: DEFAULT_KEPT_EVENTS,
    nodeArgs: harness.daemonNodeArgs,
    root: harness.daemonRoot,
  });
  let sampler: RssSampler | undefined;
  let emulator: ReadyEmulator | undefined;
  try {
    const serves: ServeSpec[] = Array.from({ length: spec.serves }, (_, i) => ({
      identity: `bench-${i}`,
      token: tokenOfServe(i),
      socketPath: join(daemon.dir, `s${i}.sock`),
      name: spec.serves === 1 ? 'BENCH' : `B${i}`,
    }));
    await daemon.serve(serves, harness.startTimeoutMs);
    // The idle baseline, right after start-up: node, the modules, an empty pipeline per serve.
    const idleRssMb = statusMb(daemon.pid, 'VmRSS') ?? Number.NaN;
    const idleAnonMb = statusMb(daemon.pid, 'RssAnon') ?? Number.NaN;
    const idleHwmMb = statusMb(daemon.pid, 'VmHWM') ?? Number.NaN;
    if (spec.initialMode !== undefined) await standIn.setMode(spec.initialMode);

    const job: EmulatorJob = {
      serves: serves.map((sv) => ({ socketPath: sv.socketPath, identity: sv.identity })),
      connectionsPerServe: spec.connectionsPerServe,
      recordsPerConnection: spec.recordsPerConnection,
      ratePerServe: spec.rate === undefined ? undefined : spec.rate / spec.serves,
      preEncode: spec.preEncode ?? true,
      identityPadding: harness.identityPadding,
      reconnect: spec.reconnect ?? false,
    };
    // Records are built and encoded before any clock starts: the load window is writes only.
    emulator = (spec.emulator ?? 'child') === 'child' ? await prepareEmulatorJobInChild(job) : prepareEmulatorJob(job);

    sampler = new RssSampler(daemon.pid, spec.rssSampleMs ?? harness.rssSampleMs);
    const cpu0 = cpuSeconds(daemon.pid);
    const benchCpu0 = process.cpuUsage();
    const startedAt = nowMs();
    const ctx: LoadContext = {
      standIn,
      get daemon() {
        return daemon;
      },
      restarted: (d) => {
        daemon = d;
      },
      ledger,
      startedAt,
      onBody: (o) => observers.push(o),
    };
    const during = spec.during?.(ctx) ?? Promise.resolve();
    const { reports, sentAt, cpuSeconds: emulatorCpuS, prepareS, encodedBytes } = await emulator.go();
    sentAt.forEach((times, backend) => ledger.noteSentTimes(backend, times));
    await during;
    const sent = reports.reduce((n, r) => n + r.sent, 0);

    // Settled: the collector has read every record sent and holds no bytes (all delivered, dropped or lost).
    const settled = await daemon
      .waitFor(
        'the collector to settle',
        () => {
          const s = daemon.latestStats;
          if (s === undefined) return false;
          if (spec.settled !== undefined) return spec.settled(s, sent);
          // spool_batches is absent (0) without a spool; with one, settled means spooled batches delivered too.
          return Number(s.records_in) >= sent && Number(s.queued_bytes) === 0 && Number(s.spool_batches ?? 0) === 0;
        },
        harness.settleTimeoutMs,
      )
      .then(
        () => true,
        () => false,
      );
    const wallS = (nowMs() - startedAt) / 1000;
    const cpu = cpuSeconds(daemon.pid) - cpu0;
    const benchCpuUsage = process.cpuUsage(benchCpu0);
    const peakRssMb = statusMb(daemon.pid, 'VmHWM') ?? Number.NaN;
    sampler.stop();
    const stats = daemon.latestStats;
    const exit = await daemon.stop(harness.stopTimeoutMs);
    await sleep(50); // a last body the graceful stop flushed is handed over before the 204 it waits for
    await standIn.close();

    const summary = ledger.summary();
    const deliverS = summary.lastReceivedAt !== undefined && summary.firstNotedAt !== undefined ? (summary.lastReceivedAt - summary.firstNotedAt) / 1000 : Number.NaN;
    const benchCpuS = (benchCpuUsage.user + benchCpuUsage.system) / 1e6;
    return {
      settled,
      wallS,
      ledger: summary,
      markers: ledger,
      emulator: {
        sent,
        lost: reports.reduce((n, r) => n + r.lost, 0),
        blockedWrites: reports.reduce((n, r) => n + r.blockedWrites, 0),
        maxBlockedMs: reports.reduce((m, r) => Math.max(m, r.maxBlockedMs), 0),
        elapsedMs: reports.reduce((m, r) => Math.max(m, r.elapsedMs), 0),
        recordsPerSecond: reports.reduce((n, r) => n + r.recordsPerSecond, 0),
        cpuSeconds: emulatorCpuS,
        prepareS,
        encodedMb: encodedBytes / 1e6,
        errors: [...new Set(reports.flatMap((r) => r.backends.flatMap((b) => (b.error === undefined ? [] : [b.error]))))],
      },
      deliveredRecordsPerSecond: summary.received / deliverS,
      collector: {
        pid: daemon.pid,
        cpuSeconds: cpu,
        cpuMicrosPerRecord: (cpu * 1e6) / Math.max(1, summary.received),
        cpuMicrosPerRecordRead: (cpu * 1e6) / Math.max(1, Number(stats?.records_in ?? 0)),
        peakRssMb,
        maxSampledRssMb: sampler.maxMb,
        maxSampledAnonMb: sampler.maxAnonMb,
        idleRssMb,
        idleAnonMb,
        idleHwmMb,
        peakGrowthMb: peakRssMb - idleRssMb,
        anonGrowthMb: sampler.maxAnonMb - idleAnonMb,
        rssSamples: sampler.samples,
        stats,
        droppedAnnounced: daemon.events
          .filter((e) => e.event === 'drop' && e.phase === 'announced')
          .reduce((n, e) => n + Number(e.count), 0),
        eventCounts: Object.fromEntries(daemon.counts),
        exit,
      },
      bench: { cpuSeconds: benchCpuS, cpuShare: benchCpuS / wallS },
      standIn: standIn.stats(),
    };
  } catch (e) {
    sampler?.stop();
    emulator?.cancel();
    daemon.kill();
    await standIn.close();
    throw e;
  }
}
