// The scenarios: each is a load shape, what is done to the stand-in meanwhile, and
// the targets its figures are held against.
import { COLLECTOR_BUFFER_CAP_BYTES, COLLECTOR_FLAGS, DEFAULT_HARNESS_OPTIONS, recordsPerConnectionFor, TARGETS, type HarnessOptions, type ScenarioSizes } from './options';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { frameCounterFor } from './frameCount';
import { DaemonChild, DEFAULT_KEPT_EVENTS } from './daemon';
import { runLoad, type LoadResult } from './load';
import { nowMs } from './ledger';

export interface TargetCheck {
  readonly figure: string;
  readonly value: number;
  readonly target: string; // e.g. `>= 100000`
  readonly pass: boolean;
}

export interface ScenarioResult {
  readonly name: string;
  readonly line: string; // the one summary line
  readonly targets: readonly TargetCheck[];
  readonly figures: Readonly<Record<string, unknown>>;
  readonly load: LoadResult;
}

const atMost = (figure: string, value: number, max: number): TargetCheck => ({ figure, value, target: `<= ${max}`, pass: value <= max });
const below = (figure: string, value: number, max: number): TargetCheck => ({ figure, value, target: `< ${max}`, pass: value < max });
const atLeast = (figure: string, value: number, min: number): TargetCheck => ({ figure, value, target: `>= ${min}`, pass: value >= min });
const equal = (figure: string, value: number, expected: number): TargetCheck => ({ figure, value, target: `== ${expected}`, pass: value === expected });

const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits;

/** The figures every scenario reports, for the JSON file. */
function commonFigures(r: LoadResult): Record<string, unknown> {
  return {
    settled: r.settled,
    sent: r.emulator.sent,
    emulatorLost: r.emulator.lost,
    received: r.ledger.received,
    missing: r.ledger.missing,
    duplicated: r.ledger.duplicated,
    misrouted: r.ledger.misrouted,
    unknownMarkers: r.ledger.unknown,
    deliveredRecordsPerSecond: Math.round(r.deliveredRecordsPerSecond),
    sentRecordsPerSecond: Math.round(r.emulator.recordsPerSecond),
    latencyP50Ms: round(r.ledger.latency.p50Ms),
    latencyP99Ms: round(r.ledger.latency.p99Ms),
    latencyMaxMs: round(r.ledger.latency.maxMs),
    maxBlockedMs: round(r.emulator.maxBlockedMs),
    blockedWrites: r.emulator.blockedWrites,
    collectorCpuS: round(r.collector.cpuSeconds, 2),
    collectorCpuMicrosPerRecord: round(r.collector.cpuMicrosPerRecord, 2),
    collectorCpuMicrosPerRecordRead: round(r.collector.cpuMicrosPerRecordRead, 2),
    collectorPeakRssMb: round(r.collector.peakRssMb),
    collectorMaxSampledRssMb: round(r.collector.maxSampledRssMb),
    collectorMaxSampledAnonMb: round(r.collector.maxSampledAnonMb),
    collectorIdleRssMb: round(r.collector.idleRssMb),
    collectorIdleAnonMb: round(r.collector.idleAnonMb),
    collectorIdleHwmMb: round(r.collector.idleHwmMb),
    collectorPeakGrowthMb: round(r.collector.peakGrowthMb), // peak VmHWM above the idle VmRSS
    collectorAnonGrowthMb: round(r.collector.anonGrowthMb), // peak sampled RssAnon above the idle one
    emulatorPrepareS: round(r.emulator.prepareS, 2),
    emulatorEncodedMb: round(r.emulator.encodedMb),
    emulatorCpuS: round(r.emulator.cpuSeconds, 2),
    benchCpuS: round(r.bench.cpuSeconds, 2),
    benchCpuShare: round(r.bench.cpuShare, 2), // 1.0 = one core busy in the load generator + stand-in
    wallS: round(r.wallS, 2),
    frames: r.ledger.frames,
    bodies: r.ledger.bodies,
    collectorExit: r.collector.exit.code,
    collectorStopMs: Math.round(r.collector.exit.stopMs),
    collectorEvents: r.collector.eventCounts,
  };
}

/**
 * The RSS target is on peak VmHWM, which includes ~65 MB the idle daemon already holds (node and
 * its modules, much of it file-backed): print the idle baseline and the growth above it too.
 */
function rssDetail(r: LoadResult): string {
  const c = r.collector;
  return `peak RSS ${round(c.peakRssMb)} MB = idle ${round(c.idleRssMb)} + ${round(c.peakGrowthMb)} (anon ${round(c.idleAnonMb)} → ${round(c.maxSampledAnonMb)}, +${round(c.anonGrowthMb)})`;
}

function result(name: string, load: LoadResult, targets: TargetCheck[], extra: Record<string, unknown>, detail: string): ScenarioResult {
  const misses = targets.filter((t) => !t.pass).length;
  const verdict = targets.map((t) => `${t.pass ? 'PASS' : 'MISS'} ${t.figure}=${t.value} (${t.target})`).join('; ');
  return {
    name,
    line: `${name.padEnd(10)} ${misses === 0 ? 'PASS' : `MISS×${misses}`}  ${detail}  |  ${verdict}`,
    targets,
    figures: { ...commonFigures(load), ...extra },
    load,
  };
}

const exactlyOnce = (r: LoadResult): TargetCheck[] => [
  equal('lost', r.ledger.missing, 0),
  equal('duplicated', r.ledger.duplicated, 0),
];

export async function throughput(sizes: ScenarioSizes, harness: HarnessOptions = DEFAULT_HARNESS_OPTIONS): Promise<ScenarioResult> {
  const { connections, recordsPerConnection, rate } = sizes.throughput;
  const r = await runLoad({ serves: 1, connectionsPerServe: connections, recordsPerConnection, rate, collectorFlags: COLLECTOR_FLAGS }, harness);
  const targets = [
    ...exactlyOnce(r),
    atLeast('records_per_s', Math.round(r.deliveredRecordsPerSecond), TARGETS.throughputRecordsPerSecond),
    atMost('cpu_us_per_record', round(r.collector.cpuMicrosPerRecord, 2), TARGETS.cpuMicrosPerRecord),
    atMost('peak_rss_mb', round(r.collector.peakRssMb), TARGETS.throughputPeakRssMb),
    atMost('idle_rss_mb', round(r.collector.idleRssMb), TARGETS.idleRssMb),
  ];
  const detail = `${connections}×${recordsPerConnection}: ${Math.round(r.deliveredRecordsPerSecond)} rec/s delivered (offered ${Math.round(r.emulator.recordsPerSecond)}), ${round(r.collector.cpuMicrosPerRecord, 2)} µs CPU/rec delivered (${round(r.collector.cpuMicrosPerRecordRead, 2)}/rec read), ${rssDetail(r)}, stand-in CPU ${round(r.bench.cpuShare, 2)} core, emulator ${round(r.emulator.cpuSeconds / r.wallS, 2)} core`;
  return result('throughput', r, targets, {}, detail);
}

export async function latency(sizes: ScenarioSizes, harness: HarnessOptions = DEFAULT_HARNESS_OPTIONS): Promise<ScenarioResult> {
  const { connections, rate, seconds } = sizes.latency;
  const recordsPerConnection = recordsPerConnectionFor(rate, seconds, connections);
  const r = await runLoad({ serves: 1, connectionsPerServe: connections, recordsPerConnection, rate, collectorFlags: COLLECTOR_FLAGS }, harness);
  const targets = [...exactlyOnce(r), below('p99_ms', round(r.ledger.latency.p99Ms), TARGETS.latencyP99Ms)];
  const detail = `${rate} rec/s for ${seconds} s: p50 ${round(r.ledger.latency.p50Ms)} ms, p99 ${round(r.ledger.latency.p99Ms)} ms, max ${round(r.ledger.latency.maxMs)} ms`;
  return result('latency', r, targets, {}, detail);
}

export async function tenants(sizes: ScenarioSizes, harness: HarnessOptions = DEFAULT_HARNESS_OPTIONS): Promise<ScenarioResult> {
  const { serves, connectionsPerServe, recordsPerConnection } = sizes.tenants;
  const r = await runLoad({ serves, connectionsPerServe, recordsPerConnection, rate: undefined, collectorFlags: COLLECTOR_FLAGS }, harness);
  const tokens = Object.keys(r.standIn.framesByToken).length;
  const targets = [...exactlyOnce(r), equal('misrouted', r.ledger.misrouted, 0), equal('tokens_seen', tokens, serves)];
  const detail = `${serves} serves × ${connectionsPerServe} conns × ${recordsPerConnection}: ${r.ledger.received}/${r.ledger.noted} delivered, ${tokens} tokens, ${Math.round(r.deliveredRecordsPerSecond)} rec/s`;
  return result('tenants', r, targets, { tokensSeen: tokens }, detail);
}

export async function outage(sizes: ScenarioSizes, harness: HarnessOptions = DEFAULT_HARNESS_OPTIONS): Promise<ScenarioResult> {
  const { connections, rate, beforeS, downS, afterS } = sizes.outage;
  const recordsPerConnection = recordsPerConnectionFor(rate, beforeS + downS + afterS, connections);
  let upAt = Number.NaN;
  let resumedAt = Number.NaN; // first body after the stand-in came back
  const r = await runLoad({
    serves: 1,
    connectionsPerServe: connections,
    recordsPerConnection,
    rate,
    collectorFlags: COLLECTOR_FLAGS,
    during: async (ctx) => {
      ctx.onBody((_, at) => {
        if (at >= upAt && Number.isNaN(resumedAt)) resumedAt = at;
      });
      await sleepUntil(ctx.startedAt + beforeS * 1000);
      await ctx.standIn.setMode({ kind: 'down' });
      await sleepUntil(ctx.startedAt + (beforeS + downS) * 1000);
      upAt = nowMs();
      await ctx.standIn.setMode({ kind: 'up' });
    },
  }, harness);
  // The collector counts drops in frames, the ledger misses records: translate with the real formatter.
  const framesOf = frameCounterFor('BENCH');
  let missingFrames = 0;
  for (const [backend, seq] of r.markers.missingRecords()) missingFrames += framesOf(backend, seq);
  const stats = r.collector.stats ?? {};
  const dropped = Number(stats.dropped);
  const lost = Number(stats.lost);
  const capMb = COLLECTOR_BUFFER_CAP_BYTES / 1e6;
  const resumeS = (resumedAt - upAt) / 1000;
  const targets = [
    atMost('max_blocked_ms', round(r.emulator.maxBlockedMs), TARGETS.outageMaxBlockedMs),
    below('peak_rss_mb', round(r.collector.peakRssMb), round(capMb + TARGETS.outageRssOverCapMb)),
    equal('missing_frames-collector_dropped_lost', missingFrames - dropped - lost, 0),
    equal('l10_announced-collector_dropped', r.ledger.l10Dropped - dropped, 0),
    equal('duplicated', r.ledger.duplicated, 0),
    { figure: 'delivery_resumed_s', value: round(resumeS, 2), target: 'resumes', pass: Number.isFinite(resumeS) && r.settled },
  ];
  const detail =
    `${rate} rec/s, down ${downS} s: max block ${round(r.emulator.maxBlockedMs)} ms, ${rssDetail(r)}, ` +
    `missing ${r.ledger.missing} rec = ${missingFrames} frames, collector dropped ${dropped} lost ${lost}, L10 said ${r.ledger.l10Dropped} in ${r.ledger.l10Frames} frames, resumed ${round(resumeS, 2)} s after up`;
  return result('outage', r, targets, { missingFrames, collectorDropped: dropped, collectorLost: lost, droppedAnnounced: r.collector.droppedAnnounced, l10Dropped: r.ledger.l10Dropped, l10Lost: r.ledger.l10Lost, l10Frames: r.ledger.l10Frames, resumeS: round(resumeS, 2) }, detail);
}

export async function flaky(sizes: ScenarioSizes, harness: HarnessOptions = DEFAULT_HARNESS_OPTIONS): Promise<ScenarioResult> {
  const { connections, rate, seconds, failProbability } = sizes.flaky;
  const recordsPerConnection = recordsPerConnectionFor(rate, seconds, connections);
  const r = await runLoad({
    serves: 1,
    connectionsPerServe: connections,
    recordsPerConnection,
    rate,
    collectorFlags: COLLECTOR_FLAGS,
    initialMode: { kind: 'fail', status: 503, probability: failProbability },
  }, harness);
  const answered503 = r.standIn.statuses[503] ?? 0;
  const targets = [...exactlyOnce(r), atLeast('answered_503', answered503, 1)];
  const detail = `${rate} rec/s for ${seconds} s, ${failProbability * 100}% 503: ${r.ledger.received}/${r.ledger.noted} delivered once, ${answered503} of ${r.standIn.requests} requests failed, ${r.ledger.duplicated} duplicates`;
  return result('flaky', r, targets, { answered503, requests: r.standIn.requests }, detail);
}

/**
 * PostgreSQL's send pattern: every backend writes each record with its own write()
 * (the emulator never joins records into one write; the kernel may still merge them in the
 * socket buffer, as it does for pg_logfebe). Nothing may be lost or block a backend, and records
 * reach logplex within a flush interval and a round trip.
 */
function realPattern(name: 'real8' | 'real100' | 'real8max' | 'real100max') {
  return async (sizes: ScenarioSizes, harness: HarnessOptions = DEFAULT_HARNESS_OPTIONS): Promise<ScenarioResult> => {
    const { connections, recordsPerConnection, rate } = sizes[name];
    const r = await runLoad({ serves: 1, connectionsPerServe: connections, recordsPerConnection, rate, collectorFlags: COLLECTOR_FLAGS }, harness);
    const targets = [
      ...exactlyOnce(r),
      atMost('max_blocked_ms', round(r.emulator.maxBlockedMs), TARGETS.realMaxBlockedMs),
      atMost('p99_ms', round(r.ledger.latency.p99Ms), TARGETS.latencyP99Ms),
      atMost('peak_rss_mb', round(r.collector.peakRssMb), TARGETS.throughputPeakRssMb),
      atMost('idle_rss_mb', round(r.collector.idleRssMb), TARGETS.idleRssMb),
    ];
    const detail =
      `${connections}×${recordsPerConnection} one write each, ${rate === undefined ? 'unpaced' : `${rate} rec/s`}: ${Math.round(r.deliveredRecordsPerSecond)} rec/s delivered (offered ${Math.round(r.emulator.recordsPerSecond)}), ` +
      `${round(r.collector.cpuMicrosPerRecord, 2)} µs CPU/rec, p99 ${round(r.ledger.latency.p99Ms)} ms, max block ${round(r.emulator.maxBlockedMs)} ms, ${rssDetail(r)}`;
    return result(name, r, targets, {}, detail);
  };
}

/** A logplex outage with --spool-dir: what it costs, how fast the spool drains, what memory it takes. */
async function spoolOutage(
  name: string,
  shape: { connections: number; rate: number; beforeS: number; downS: number; afterS: number },
  extraFlags: readonly string[],
  harness: HarnessOptions,
): Promise<{ r: LoadResult; upAt: number; drainedAt: number; spoolDir: string; maxSpoolMb: number }> {
  const { connections, rate, beforeS, downS, afterS } = shape;
  const recordsPerConnection = recordsPerConnectionFor(rate, beforeS + downS + afterS, connections);
  const spoolDir = mkdtempSync(join(tmpdir(), `plc-bench-${name}-`));
  let upAt = Number.NaN;
  let drainedAt = Number.NaN; // first stats line after `up` with an empty spool
  let maxSpoolMb = 0;
  try {
    const r = await runLoad({
      serves: 1,
      connectionsPerServe: connections,
      recordsPerConnection,
      rate,
      collectorFlags: [...COLLECTOR_FLAGS, '--spool-dir', spoolDir, ...extraFlags],
      during: async (ctx) => {
        const watch = setInterval(() => {
          const s = ctx.daemon.latestStats;
          if (s === undefined) return;
          maxSpoolMb = Math.max(maxSpoolMb, Number(s.spool_bytes ?? 0) / 1e6);
          if (Number.isFinite(upAt) && Number.isNaN(drainedAt) && Number(s.spool_batches ?? 0) === 0) drainedAt = nowMs();
        }, 100);
        await sleepUntil(ctx.startedAt + beforeS * 1000);
        await ctx.standIn.setMode({ kind: 'down' });
        await sleepUntil(ctx.startedAt + (beforeS + downS) * 1000);
        upAt = nowMs();
        await ctx.standIn.setMode({ kind: 'up' });
        await sleepUntil(ctx.startedAt + (beforeS + downS + afterS) * 1000);
        clearInterval(watch);
      },
    }, harness);
    return { r, upAt, drainedAt, spoolDir, maxSpoolMb };
  } finally {
    rmSync(spoolDir, { recursive: true, force: true });
  }
}

export async function spool(sizes: ScenarioSizes, harness: HarnessOptions = DEFAULT_HARNESS_OPTIONS): Promise<ScenarioResult> {
  const shape = sizes.spool;
  const { r, upAt, drainedAt, maxSpoolMb } = await spoolOutage('spool', shape, [], harness);
  const stats = r.collector.stats ?? {};
  const dropped = Number(stats.dropped);
  const lost = Number(stats.lost);
  const drainS = (drainedAt - upAt) / 1000;
  // Live lines once the spool is empty: sent a second after it drained (the stats line is 500 ms stale at worst).
  const live = r.markers.latencySentFrom(drainedAt + 1000);
  const outageRecords = shape.rate * shape.downS;
  const targets = [
    equal('missing', r.ledger.missing, 0),
    equal('dropped', dropped, 0),
    equal('lost', lost, 0),
    atMost('duplicated', r.ledger.duplicated, 0),
    { figure: 'drain_s', value: round(drainS, 2), target: `<= ${TARGETS.spoolDrainS}`, pass: Number.isFinite(drainS) && drainS <= TARGETS.spoolDrainS },
    { figure: 'live_p99_ms', value: round(live.p99Ms), target: `<= ${TARGETS.spoolLiveP99Ms}`, pass: live.count > 0 && live.p99Ms <= TARGETS.spoolLiveP99Ms },
    atMost('max_blocked_ms', round(r.emulator.maxBlockedMs), TARGETS.outageMaxBlockedMs),
    atMost('peak_rss_mb', round(r.collector.peakRssMb), TARGETS.spoolPeakRssMb),
  ];
  const detail =
    `${shape.rate} rec/s, down ${shape.downS} s (${outageRecords} records read meanwhile): ${r.ledger.received}/${r.ledger.noted} delivered, dropped ${dropped} lost ${lost} dup ${r.ledger.duplicated}, ` +
    `spool peak ${round(maxSpoolMb)} MB, drained ${round(drainS, 2)} s after up, live p99 after ${round(live.p99Ms)} ms (${live.count} rec), max block ${round(r.emulator.maxBlockedMs)} ms, ${rssDetail(r)}`;
  return result('spool', r, targets, { collectorDropped: dropped, collectorLost: lost, drainS: round(drainS, 2), maxSpoolMb: round(maxSpoolMb), liveP99Ms: round(live.p99Ms), liveCount: live.count }, detail);
}

export async function spoolFull(sizes: ScenarioSizes, harness: HarnessOptions = DEFAULT_HARNESS_OPTIONS): Promise<ScenarioResult> {
  const shape = sizes.spoolFull;
  const { r, maxSpoolMb } = await spoolOutage('spoolfull', shape, ['--spool-cap', shape.cap], harness);
  const framesOf = frameCounterFor('BENCH');
  let missingFrames = 0;
  for (const [backend, seq] of r.markers.missingRecords()) missingFrames += framesOf(backend, seq);
  const stats = r.collector.stats ?? {};
  const dropped = Number(stats.dropped);
  const lost = Number(stats.lost);
  const capMb = shape.capBytes / 1e6;
  const targets = [
    { figure: 'dropped', value: dropped, target: '> 0 (past the cap)', pass: dropped > 0 },
    equal('missing_frames-collector_dropped_lost', missingFrames - dropped - lost, 0),
    equal('l10_announced-collector_dropped', r.ledger.l10Dropped - dropped, 0),
    { figure: 'spool_peak_mb', value: round(maxSpoolMb, 2), target: `<= ${round(capMb, 2)}`, pass: maxSpoolMb <= capMb },
    atMost('max_blocked_ms', round(r.emulator.maxBlockedMs), TARGETS.outageMaxBlockedMs),
    below('peak_rss_mb', round(r.collector.peakRssMb), round(COLLECTOR_BUFFER_CAP_BYTES / 1e6 + TARGETS.outageRssOverCapMb)),
  ];
  const detail =
    `${shape.rate} rec/s, down ${shape.downS} s, --spool-cap ${shape.cap}: spool peak ${round(maxSpoolMb, 2)} MB, ` +
    `missing ${r.ledger.missing} rec = ${missingFrames} frames, collector dropped ${dropped} lost ${lost}, L10 said ${r.ledger.l10Dropped}, ${rssDetail(r)}`;
  return result('spoolFull', r, targets, { missingFrames, collectorDropped: dropped, collectorLost: lost, l10Dropped: r.ledger.l10Dropped, maxSpoolMb: round(maxSpoolMb, 2) }, detail);
}

/**
 * The spool outage with the daemon killed (-9) mid-outage and started again on the same serve
 * database and spool a few seconds later; backends reconnect as pg_logfebe does (what they send
 * while no one listens is lost on their side, as it would be).
 */
export async function crash(sizes: ScenarioSizes, harness: HarnessOptions = DEFAULT_HARNESS_OPTIONS): Promise<ScenarioResult> {
  const { connections, rate, beforeS, downS, afterS, killAtS, restartAtS } = sizes.crash;
  const recordsPerConnection = recordsPerConnectionFor(rate, beforeS + downS + afterS, connections);
  const spoolDir = mkdtempSync(join(tmpdir(), 'plc-bench-crash-'));
  const flags = [...COLLECTOR_FLAGS, '--spool-dir', spoolDir];
  let killedAt = Number.NaN;
  let upAt = Number.NaN;
  let recovered: Readonly<Record<string, unknown>> | undefined;
  try {
    const r = await runLoad({
      serves: 1,
      connectionsPerServe: connections,
      recordsPerConnection,
      rate,
      reconnect: true,
      collectorFlags: flags,
      // The restarted daemon has read only what came after the restart: settled is nothing held.
      settled: (s) => Number(s.queued_bytes) === 0 && Number(s.spool_batches ?? 0) === 0 && Number.isFinite(upAt),
      during: async (ctx) => {
        await sleepUntil(ctx.startedAt + beforeS * 1000);
        await ctx.standIn.setMode({ kind: 'down' });
        await sleepUntil(ctx.startedAt + killAtS * 1000);
        const dead = ctx.daemon;
        killedAt = nowMs();
        await dead.crash();
        await sleepUntil(ctx.startedAt + restartAtS * 1000);
        const again = new DaemonChild({
          logplexUrl: ctx.standIn.url,
          flags: ['--stats-interval', `${harness.statsIntervalMs}ms`, ...flags, ...harness.extraCollectorFlags],
          keepEventKinds: new Set([...DEFAULT_KEPT_EVENTS, 'spool_recovered']),
          nodeArgs: harness.daemonNodeArgs,
          dir: dead.dir,
        });
        ctx.restarted(again);
        await again.waitFor('the restarted daemon to listen', () => again.events.some((e) => e.event === 'listening'), harness.startTimeoutMs);
        recovered = again.events.find((e) => e.event === 'spool_recovered');
        await sleepUntil(ctx.startedAt + (beforeS + downS) * 1000);
        upAt = nowMs();
        await ctx.standIn.setMode({ kind: 'up' });
      },
    }, harness);
    const lostBeforeSync = r.markers.missingSentBefore(killedAt - TARGETS.spoolSyncMs);
    const lostAround = r.ledger.missing - lostBeforeSync;
    const targets = [
      equal(`missing_sent_before_kill-${TARGETS.spoolSyncMs}ms`, lostBeforeSync, 0),
      atMost('duplicated', r.ledger.duplicated, TARGETS.crashDuplicatedRecords),
      { figure: 'settled', value: r.settled ? 1 : 0, target: '== 1', pass: r.settled },
      atMost('max_blocked_ms', round(r.emulator.maxBlockedMs), TARGETS.outageMaxBlockedMs),
    ];
    const detail =
      `${rate} rec/s, down ${downS} s, kill -9 at ${killAtS} s, restart at ${restartAtS} s: recovered ${String(recovered?.batches ?? '?')} batches (${String(recovered?.frames ?? '?')} frames, skipped ${String(recovered?.skipped_bytes ?? '?')} bytes); ` +
      `${r.ledger.received}/${r.ledger.noted} delivered; missing ${lostBeforeSync} sent before kill-1s, ${lostAround} after (backends found no one listening: ${r.emulator.lost} lost on their side); ${r.ledger.duplicated} duplicated`;
    return result('crash', r, targets, { lostBeforeSync, lostAround, recovered, killedAt, upAt }, detail);
  } finally {
    rmSync(spoolDir, { recursive: true, force: true });
  }
}

const sleepUntil = (at: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, at - nowMs())));

export const SCENARIOS = {
  throughput,
  latency,
  tenants,
  outage,
  flaky,
  spool,
  spoolFull,
  crash,
  real8: realPattern('real8'),
  real100: realPattern('real100'),
  real8max: realPattern('real8max'),
  real100max: realPattern('real100max'),
} as const;
export type ScenarioName = keyof typeof SCENARIOS;
