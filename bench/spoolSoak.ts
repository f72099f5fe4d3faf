// `npm run bench:spool-soak [-- --minutes 30 --every 10 --down 2]`: 5,000 records/s against the
// real daemon with --spool-dir, logplex down for `--down` minutes every `--every` minutes (the spool's soak). Claims, printed and never asserted: every record delivered, none dropped; the
// spool back to empty before each next outage; the RSS flat (least-squares slope after warm-up,
// as bench:soak judges it).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './harness/daemon';
import { nowMs } from './harness/ledger';
import { runLoad } from './harness/load';
import { COLLECTOR_FLAGS, recordsPerConnectionFor, DEFAULT_SOAK_OPTIONS } from './harness/options';
import { rssSlopeMbPerMin } from './harness/procStats';

function numberArg(argv: readonly string[], flag: string, fallback: number): number {
  const i = argv.indexOf(flag);
  if (i < 0) return fallback;
  const m = Number(argv[i + 1]);
  if (!(m > 0)) throw new Error(`${flag} needs a positive number`);
  return m;
}

const sleepUntil = (at: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, at - nowMs())));

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const minutes = numberArg(argv, '--minutes', 30);
  const everyMin = numberArg(argv, '--every', 10);
  const downMin = numberArg(argv, '--down', 2);
  const { rate, connections, sampleEveryS, flatSlopeMbPerMin } = DEFAULT_SOAK_OPTIONS;
  const warmUpS = Math.min(DEFAULT_SOAK_OPTIONS.warmUpS, (minutes * 60) / 3);
  const recordsPerConnection = recordsPerConnectionFor(rate, minutes * 60, connections);
  const spoolDir = mkdtempSync(join(tmpdir(), 'plc-spool-soak-'));
  const started = new Date();
  // Per cycle: the spool's size at the end of the outage, and just before the next one.
  const cycles: { downAtS: number; spoolMbAtUp: number; spoolBatchesBeforeNext: number }[] = [];
  process.stdout.write(`spool soak: ${rate} rec/s for ${minutes} min, logplex down ${downMin} min every ${everyMin} min, spool in ${spoolDir}\n`);
  try {
    const r = await runLoad({
      serves: 1,
      connectionsPerServe: connections,
      recordsPerConnection,
      rate,
      collectorFlags: [...COLLECTOR_FLAGS, '--spool-dir', spoolDir],
      rssSampleMs: sampleEveryS * 1000,
      preEncode: false,
      during: async (ctx) => {
        const stat = (key: string): number => Number(ctx.daemon.latestStats?.[key] ?? 0);
        // The first outage a minute in; then every `everyMin`, while there is time for it and a drain.
        for (let at = 60; at + downMin * 60 < minutes * 60; at += everyMin * 60) {
          await sleepUntil(ctx.startedAt + at * 1000);
          if (cycles.length > 0) (cycles[cycles.length - 1] as { spoolBatchesBeforeNext: number }).spoolBatchesBeforeNext = stat('spool_batches');
          await ctx.standIn.setMode({ kind: 'down' });
          await sleepUntil(ctx.startedAt + (at + downMin * 60) * 1000);
          cycles.push({ downAtS: at, spoolMbAtUp: stat('spool_bytes') / 1e6, spoolBatchesBeforeNext: Number.NaN });
          await ctx.standIn.setMode({ kind: 'up' });
        }
      },
    });
    const last = cycles[cycles.length - 1];
    if (last !== undefined) last.spoolBatchesBeforeNext = Number(r.collector.stats?.spool_batches ?? Number.NaN); // at the end of the run
    const samples = r.collector.rssSamples;
    const afterWarmUp = samples.filter((s) => s.atS >= warmUpS);
    const slope = rssSlopeMbPerMin(afterWarmUp);
    const dropped = Number(r.collector.stats?.dropped ?? Number.NaN);
    const emptied = cycles.every((c) => c.spoolBatchesBeforeNext === 0);
    const pass = Math.abs(slope) < flatSlopeMbPerMin && r.ledger.missing === 0 && dropped === 0 && emptied;
    const line =
      `spool-soak ${pass ? 'PASS' : 'MISS'}  ${r.ledger.received}/${r.ledger.noted} delivered, ${r.ledger.missing} missing, ${dropped} dropped, ${r.ledger.duplicated} duplicated; ` +
      `spool at each return ${cycles.map((c) => c.spoolMbAtUp.toFixed(1)).join('/')} MB, batches left before the next outage ${cycles.map((c) => c.spoolBatchesBeforeNext).join('/')}; ` +
      `RSS slope ${slope.toFixed(3)} MB/min after ${warmUpS} s (flat: < ${flatSlopeMbPerMin}), peak ${r.collector.peakRssMb.toFixed(1)} MB, max block ${r.emulator.maxBlockedMs.toFixed(1)} ms`;
    process.stdout.write(`${line}\n`);
    const dir = join(repoRoot(), 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `spool-soak-${started.toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify({ startedAt: started.toISOString(), minutes, everyMin, downMin, rate, line, cycles, slopeMbPerMin: slope, samples, ledger: r.ledger, lastStats: r.collector.stats }, null, 2)}\n`);
    process.stdout.write(`figures in ${file}\n`);
  } finally {
    rmSync(spoolDir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`spool soak: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
