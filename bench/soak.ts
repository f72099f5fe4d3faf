// `npm run bench:soak [-- --minutes 10]`: a steady 5,000 records/s for ten minutes against the
// real daemon, its RSS sampled every few seconds. The claim is "flat after warm-up": the RSS at
// the end is about what it was once the first minute was over, and the least-squares slope of the
// samples after warm-up is under DEFAULT_SOAK_OPTIONS.flatSlopeMbPerMin. Printed, never asserted.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './harness/daemon';
import { runLoad } from './harness/load';
import { COLLECTOR_FLAGS, recordsPerConnectionFor, DEFAULT_SOAK_OPTIONS } from './harness/options';
import { rssSlopeMbPerMin } from './harness/procStats';

function minutesArg(argv: readonly string[]): number {
  const i = argv.indexOf('--minutes');
  if (i < 0) return DEFAULT_SOAK_OPTIONS.minutes;
  const m = Number(argv[i + 1]);
  if (!(m > 0)) throw new Error('--minutes needs a positive number');
  return m;
}

async function main(): Promise<void> {
  const minutes = minutesArg(process.argv.slice(2));
  const { rate, connections, sampleEveryS, flatSlopeMbPerMin } = DEFAULT_SOAK_OPTIONS;
  const warmUpS = Math.min(DEFAULT_SOAK_OPTIONS.warmUpS, (minutes * 60) / 3); // short runs still keep most samples after warm-up
  const recordsPerConnection = recordsPerConnectionFor(rate, minutes * 60, connections);
  const started = new Date();
  process.stdout.write(`soak: ${rate} rec/s over ${connections} connections for ${minutes} min, RSS every ${sampleEveryS} s, warm-up ${warmUpS} s\n`);
  const r = await runLoad({
    serves: 1,
    connectionsPerServe: connections,
    recordsPerConnection,
    rate,
    collectorFlags: [...COLLECTOR_FLAGS],
    rssSampleMs: sampleEveryS * 1000,
    // Paced at 5k/s, the emulator keeps up building records as it goes; 3M records encoded ahead
    // would be gigabytes and half a minute for nothing.
    preEncode: false,
  });
  const samples = r.collector.rssSamples;
  const afterWarmUp = samples.filter((s) => s.atS >= warmUpS);
  const atWarmUp = afterWarmUp[0]?.rssMb ?? Number.NaN;
  const atEnd = samples[samples.length - 1]?.rssMb ?? Number.NaN;
  const slope = rssSlopeMbPerMin(afterWarmUp);
  const anonAtWarmUp = afterWarmUp[0]?.anonMb ?? Number.NaN;
  const anonAtEnd = samples[samples.length - 1]?.anonMb ?? Number.NaN;
  const flat = Math.abs(slope) < flatSlopeMbPerMin;
  const line =
    `soak ${flat ? 'PASS' : 'MISS'}  RSS ${atWarmUp.toFixed(1)} MB at warm-up end → ${atEnd.toFixed(1)} MB at end, ` +
    `slope ${slope.toFixed(3)} MB/min (flat: |slope| < ${flatSlopeMbPerMin}), peak ${r.collector.peakRssMb.toFixed(1)} MB, anon ${anonAtWarmUp.toFixed(1)} → ${anonAtEnd.toFixed(1)} MB; ` +
    `${r.ledger.received}/${r.ledger.noted} delivered, ${r.ledger.missing} lost, ${r.ledger.duplicated} duplicated, ` +
    `p99 ${r.ledger.latency.p99Ms.toFixed(1)} ms, max block ${r.emulator.maxBlockedMs.toFixed(1)} ms, ${r.collector.cpuMicrosPerRecord.toFixed(2)} µs CPU/rec`;
  process.stdout.write(`${line}\n`);
  const dir = join(repoRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `soak-${started.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    `${JSON.stringify({ startedAt: started.toISOString(), minutes, rate, connections, warmUpS, atWarmUpMb: atWarmUp, atEndMb: atEnd, slopeMbPerMin: slope, flat, line, samples, ledger: r.ledger, emulator: r.emulator, collector: { ...r.collector, rssSamples: undefined } }, null, 2)}\n`,
  );
  process.stdout.write(`figures in ${file}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`soak: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
