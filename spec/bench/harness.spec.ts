// The benchmark harness itself works: a tiny load through the real daemon child (dist/) comes
// back complete, and every figure the scenarios print is a number. Targets are never asserted here.
import { calibrateEmulator } from '../../bench/harness/calibrate';
import { parseLogfmt } from '../../bench/harness/daemon';
import { runLoad } from '../../bench/harness/load';

describe('bench harness', () => {
  it('parses the daemon log lines it reads events from', () => {
    expect(parseLogfmt('ts=2026-11-25T01:00:00.000Z level=warn event=drop serve=BENCH socket="/tmp/a b.sock" phase=announced count=12 delivered_all=true')).toEqual({
      ts: '2026-11-25T01:00:00.000Z',
      level: 'warn',
      event: 'drop',
      serve: 'BENCH',
      socket: '/tmp/a b.sock',
      phase: 'announced',
      count: 12,
      delivered_all: true,
    });
    expect(parseLogfmt('not logfmt at all')).toBeUndefined();
  });

  it('runs 2 connections × 200 records through the real daemon: nothing lost or duplicated, every figure a number', async () => {
    const r = await runLoad({ serves: 1, connectionsPerServe: 2, recordsPerConnection: 200, rate: undefined, collectorFlags: ['--flush-interval', '50ms'], emulator: 'inline' });
    expect(r.settled).toBe(true);
    expect(r.emulator.sent).toBe(400);
    expect(r.ledger).toMatchObject({ noted: 400, received: 400, missing: 0, duplicated: 0, misrouted: 0, unknown: 0 });
    expect(r.collector.exit.code).toBe(0);
    const figures = [
      r.deliveredRecordsPerSecond,
      r.collector.cpuSeconds,
      r.collector.cpuMicrosPerRecord,
      r.collector.peakRssMb,
      r.collector.maxSampledRssMb,
      r.ledger.latency.p50Ms,
      r.ledger.latency.p99Ms,
      r.emulator.maxBlockedMs,
      r.bench.cpuShare,
      r.collector.idleRssMb,
      r.collector.idleAnonMb,
      r.collector.peakGrowthMb,
      r.collector.anonGrowthMb,
    ];
    for (const f of figures) expect(Number.isFinite(f)).toBe(true);
    expect(r.collector.peakRssMb).toBeGreaterThan(0);
    expect(r.collector.rssSamples.length).toBeGreaterThan(0);
    expect(r.collector.idleRssMb).toBeGreaterThan(0);
    expect(r.emulator.encodedMb).toBeGreaterThan(0); // pre-encoded by default
  }, 15_000);

  it('calibrates the emulator against a socket that only drains: every byte arrives, a rate comes out', async () => {
    const c = await calibrateEmulator(2, 300, 'inline');
    expect(c.recordsPerSecond).toBeGreaterThan(0);
    expect(c.drainedBytes).toBeGreaterThan(c.encodedMb * 1e6); // records plus V and I
    expect(Number.isFinite(c.mbPerSecond)).toBe(true);
  });
});
