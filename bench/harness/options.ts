// Every tunable and target of the end-to-end benchmarks, with the reason for it, in one place.
// Targets are the project's; they are printed as PASS/MISS, never asserted: machines differ.
import type { IdentityPadding } from '../../src/protocol/encode';

export interface HarnessOptions {
  readonly statsIntervalMs: number; // the daemon's stats line: how fresh our view of its counters is
  readonly rssSampleMs: number; // VmRSS sampling period of the collector process
  readonly startTimeoutMs: number; // serves.new written → every socket listening
  readonly settleTimeoutMs: number; // load sent → collector idle (everything delivered, dropped or lost)
  readonly stopTimeoutMs: number; // SIGTERM → exit; past it the child is killed
  readonly daemonNodeArgs: readonly string[]; // node flags for the daemon child (run.js --cpu-prof sets them)
  readonly extraCollectorFlags: readonly string[]; // appended to every scenario's flags (run.js --collector-flags), to try a tunable
  readonly daemonRoot: string | undefined; // the checkout whose daemon runs (run.js --baseline's worktree); undefined = this one
  readonly identityPadding: IdentityPadding; // what the emulator's I carries after the NUL: 'nul' for daemons before 3eb58cd
}

export const DEFAULT_HARNESS_OPTIONS: HarnessOptions = {
  // Half a second: settling is detected from this line, so it bounds how late we notice the end.
  statsIntervalMs: 500,
  // Often enough to catch a peak between samples of a 5-second scenario, cheap enough to be invisible.
  rssSampleMs: 100,
  // The daemon accepts serves.new within ~1 s; 50 serves listening take a little longer.
  startTimeoutMs: 15_000,
  // Long enough for the sink's backoff after an outage (delays double up to 16 s before 30 s) to come round.
  settleTimeoutMs: 60_000,
  stopTimeoutMs: 15_000,
  daemonNodeArgs: [],
  extraCollectorFlags: [],
  daemonRoot: undefined,
  identityPadding: 'garbage', // real PostgreSQL's
};

/** Collector flags every scenario passes unless it says otherwise (the daemon's own defaults, spelled out). */
export const COLLECTOR_FLUSH_MS = 250;
export const COLLECTOR_BUFFER_CAP = '32MiB';
export const COLLECTOR_BUFFER_CAP_BYTES = 32 * 1024 * 1024;
/** Those flags as the daemon's command line takes them. */
export const COLLECTOR_FLAGS: readonly string[] = ['--flush-interval', `${COLLECTOR_FLUSH_MS}ms`, '--buffer-cap', COLLECTOR_BUFFER_CAP];

/** Records each connection sends so that `connections` together send `rate` a second for `seconds`. */
export const recordsPerConnectionFor = (rate: number, seconds: number, connections: number): number => Math.round((rate * seconds) / connections);

export const TARGETS = {
  throughputRecordsPerSecond: 100_000,
  cpuMicrosPerRecord: 8,
  throughputPeakRssMb: 80, // every throughput scenario, by the daemon's own tuning (was 120)
  idleRssMb: 50, // the daemon serving, before any load (node alone is ~39.6 MB here)
  latencyP99Ms: COLLECTOR_FLUSH_MS + 100, // a flush period plus the round trip and our own scheduling
  outageMaxBlockedMs: 50, // what a PostgreSQL backend may feel from a collector that cannot deliver
  outageRssOverCapMb: 60, // runtime, code and HTTP buffers on top of the frames the cap allows
  realMaxBlockedMs: 50, // a backend's send() may wait this long at most, as in the outage
  // With a spool: a 120 s outage costs nothing, drains within a minute while live load
  // goes on, live lines are prompt again once it has, and memory stays where it was.
  spoolDrainS: 60,
  spoolLiveP99Ms: 2000,
  spoolPeakRssMb: 120,
  spoolSyncMs: 1000, // --spool-sync's default: records read longer ago than this before a kill -9 must all arrive
  crashDuplicatedRecords: 5000, // "at most one batch per serve": a batch holds at most 5,000 frames, so fewer records
} as const;

/**
 * With --baseline: CPU per record of this tree ÷ the baseline's, measured interleaved in one run
 * (half of d6c44f6's at PostgreSQL's send pattern; no worse on the batched throughput).
 */
export const CPU_RATIO_TARGETS: Readonly<Record<string, number>> = {
  throughput: 1.0,
  real8: 0.5,
  real100: 0.5,
  real8max: 0.5,
  real100max: 0.5,
};

/**
 * PostgreSQL's real send pattern: pg_logfebe sends each record with its own send(),
 * from many backends at once. `rate` undefined = as fast as the backends' sockets take them (the
 * most this machine carries); each backend still writes one record per write().
 */
export interface RealPatternSize {
  readonly connections: number;
  readonly recordsPerConnection: number;
  readonly rate: number | undefined;
}

/** Scenario sizes; `quick` scales them down for a smoke run of the harness itself. */
export interface ScenarioSizes {
  // Paced at the target rate: an unpaced emulator offers 350k+ records/s, and whatever exceeds the
  // collector's capacity is dropped by design (it never blocks PostgreSQL), so "zero lost" only
  // means something at a stated rate.
  readonly throughput: { connections: number; recordsPerConnection: number; rate: number };
  readonly latency: { connections: number; rate: number; seconds: number };
  readonly tenants: { serves: number; connectionsPerServe: number; recordsPerConnection: number };
  readonly outage: { connections: number; rate: number; beforeS: number; downS: number; afterS: number };
  readonly flaky: { connections: number; rate: number; seconds: number; failProbability: number };
  readonly real8: RealPatternSize;
  readonly real100: RealPatternSize;
  readonly real8max: RealPatternSize;
  readonly real100max: RealPatternSize;
  // The spool: `spool` is the outage with --spool-dir; `spoolFull` the same with a small --spool-cap.
  readonly spool: { connections: number; rate: number; beforeS: number; downS: number; afterS: number };
  readonly spoolFull: { connections: number; rate: number; beforeS: number; downS: number; afterS: number; cap: string; capBytes: number };
  // The spool outage with a kill -9 of the daemon at killAtS and a restart at restartAtS (seconds from the start).
  readonly crash: { connections: number; rate: number; beforeS: number; downS: number; afterS: number; killAtS: number; restartAtS: number };
}

export const FULL_SIZES: ScenarioSizes = {
  throughput: { connections: 8, recordsPerConnection: 50_000, rate: 110_000 },
  latency: { connections: 8, rate: 5_000, seconds: 15 },
  tenants: { serves: 50, connectionsPerServe: 20, recordsPerConnection: 100 },
  outage: { connections: 8, rate: 5_000, beforeS: 5, downS: 30, afterS: 10 },
  // Paced: unpaced input past what delivery sustains is dropped by design, which is the throughput scenario's business.
  flaky: { connections: 8, rate: 5_000, seconds: 8, failProbability: 0.2 },
  // 20,000 records/s is a busy server (pgbench, 8 clients, log_statement = all); 10 s of it.
  real8: { connections: 8, recordsPerConnection: 25_000, rate: 20_000 },
  real100: { connections: 100, recordsPerConnection: 2_000, rate: 20_000 },
  // The outside measurement: 8 × 25,000, unpaced.
  real8max: { connections: 8, recordsPerConnection: 25_000, rate: undefined },
  real100max: { connections: 100, recordsPerConnection: 2_000, rate: undefined },
  // 600,000 records read during the outage; a minute after it, for the drain under live load.
  spool: { connections: 8, rate: 5_000, beforeS: 5, downS: 120, afterS: 60 },
  spoolFull: { connections: 8, rate: 5_000, beforeS: 5, downS: 120, afterS: 30, cap: '16MiB', capBytes: 16 * 1024 * 1024 },
  crash: { connections: 8, rate: 5_000, beforeS: 5, downS: 120, afterS: 60, killAtS: 60, restartAtS: 65 },
};

export const QUICK_SIZES: ScenarioSizes = {
  throughput: { connections: 8, recordsPerConnection: 5_000, rate: 100_000 },
  latency: { connections: 8, rate: 5_000, seconds: 3 },
  tenants: { serves: 10, connectionsPerServe: 5, recordsPerConnection: 50 },
  outage: { connections: 8, rate: 5_000, beforeS: 2, downS: 10, afterS: 3 },
  flaky: { connections: 4, rate: 5_000, seconds: 2, failProbability: 0.2 },
  real8: { connections: 8, recordsPerConnection: 2_500, rate: 20_000 },
  real100: { connections: 100, recordsPerConnection: 200, rate: 20_000 },
  real8max: { connections: 8, recordsPerConnection: 2_500, rate: undefined },
  real100max: { connections: 100, recordsPerConnection: 200, rate: undefined },
  spool: { connections: 8, rate: 5_000, beforeS: 2, downS: 10, afterS: 10 },
  spoolFull: { connections: 8, rate: 5_000, beforeS: 2, downS: 20, afterS: 10, cap: '1MiB', capBytes: 1024 * 1024 },
  crash: { connections: 8, rate: 5_000, beforeS: 2, downS: 12, afterS: 8, killAtS: 8, restartAtS: 10 },
};

export const DEFAULT_SOAK_OPTIONS = {
  minutes: 10,
  rate: 5_000,
  connections: 8,
  sampleEveryS: 5,
  // V8's heap sizing settles in about three minutes at 5,000 records/s: a 10-minute soak at HEAD
  // f797a44 dipped 110.6 -> 99.7 MB at 120-150 s (a compaction), rose to 116.4 MB at 180 s, then
  // crept 116.4 -> 117.9 MB, decelerating, to the end. A 60 s warm-up fitted the slope across the dip.
  warmUpS: 180,
  flatSlopeMbPerMin: 0.5, // below this the RSS is "flat": 5 MB over ten minutes
};
