// `npm run bench:lanes [-- --serves 10,100,1000,10000] [--total 10000] [--rounds 3]`: what a record costs the
// sink as the number of serves grows. N serves each send one record through the real sink
// (formatter, lanes, outboxes) to a transport that answers every post at once, and the input
// ends; the figure is the wall time from the first record to the sink's completion, per record,
// over total/N such runs (so every row is `total` records), and the process's CPU time over the
// same span (wall time on a shared machine includes other processes' turns). Serves scale when the figure stays
// flat: lanes and outboxes live in Maps by socket path, where groupBy + mergeMap kept them in
// arrays searched linearly as each ended. The last line is the ratio of the last row to the
// first (10,000 serves ÷ 10): the goal is a record costing no more with 10,000 serves than
// with 10 (about 1). Printed, never asserted.
import { lastValueFrom, Subject } from 'rxjs';
import type { RecordMessage } from '../src/protocol/messages';
import { Secret } from '../src/secret';
import type { Serve } from '../src/servedb/serve';
import { logplexSink, type PostTransport } from '../src/sink';
import type { SourcedRecord } from '../src/source/sourcedRecord';
import { syntheticRecord } from '../src/tools/logfebeEmulator';

function arg(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? (process.argv[at + 1] ?? fallback) : fallback;
}

const message = (seq: number): RecordMessage => ({ type: 'L', severity: { name: 'LOG', label: 'LOG' }, record: syntheticRecord(0, seq) });

/** Answers 204 at once: the bench measures the sink, not HTTP. */
const instant: PostTransport = {
  send: (post) => Promise.resolve({ status: 204, bytes: post.body.length }),
  close: () => Promise.resolve(),
  destroy: () => Promise.resolve(),
};

/** One sink, `serveCount` serves, one record each: nanoseconds from the first record to completion. */
async function run(serveCount: number): Promise<{ ns: number; cpuUs: number; posts: number }> {
  const records = serveCount;
  const serves: Serve[] = Array.from({ length: serveCount }, (_, i) => ({
    identity: `db${i}`,
    socketPath: `/run/bench/${i}.sock`,
    name: `S${i}`,
    target: { url: 'http://127.0.0.1:1/logs', user: 'token', token: new Secret(`t.bench-${i}`) },
  }));
  const input = new Subject<SourcedRecord>();
  let posts = 0;
  const transport: PostTransport = { ...instant, send: (post, signal) => ((posts += 1), instant.send(post, signal)) };
  const done = lastValueFrom(logplexSink(input, { transport, flushIntervalMs: 50 }));
  const started = process.hrtime.bigint();
  const cpuBefore = process.cpuUsage();
  for (let i = 0; i < records; i += 1) {
    const serve = serves[i % serveCount] as Serve;
    input.next({ serve, message: message(1), receivedAt: Date.now() }); // a one-line statement
  }
  input.complete();
  const stats = await done;
  const ns = Number(process.hrtime.bigint() - started);
  const cpu = process.cpuUsage(cpuBefore);
  if (stats.framesOut < records) throw new Error(`only ${stats.framesOut} of ${records} frames delivered`);
  return { ns, cpuUs: cpu.user + cpu.system, posts };
}

/** total/serveCount runs of `serveCount` serves: µs per record. */
async function perRecordUs(serveCount: number, total: number): Promise<{ us: number; cpuUs: number; posts: number }> {
  let ns = 0;
  let cpuUs = 0;
  let posts = 0;
  const runs = Math.max(1, Math.round(total / serveCount));
  for (let r = 0; r < runs; r += 1) {
    const one = await run(serveCount);
    ns += one.ns;
    cpuUs += one.cpuUs;
    posts += one.posts;
  }
  return { us: ns / 1000 / (runs * serveCount), cpuUs: cpuUs / (runs * serveCount), posts };
}

const median = (xs: readonly number[]): number => {
  const sorted = [...xs].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

async function main(): Promise<void> {
  const total = Number(arg('total', '10000'));
  const rounds = Number(arg('rounds', '3'));
  const counts = arg('serves', '10,100,1000,10000')
    .split(',')
    .map(Number);
  await perRecordUs(100, 2000); // warm-up: JIT, the formatter's caches
  // Rows interleaved, round after round: the machine's load drifts alike over every row, and each
  // ratio below is taken within one round before the median of the rounds.
  const wall = counts.map((): number[] => []);
  const cpu = counts.map((): number[] => []);
  const wallRatio = counts.map((): number[] => []);
  const cpuRatio = counts.map((): number[] => []);
  let posts = 0;
  for (let r = 0; r < rounds; r += 1) {
    const row: { us: number; cpuUs: number }[] = [];
    for (const n of counts) {
      const one = await perRecordUs(n, total);
      posts += one.posts;
      row.push(one);
    }
    const first = row[0] as { us: number; cpuUs: number };
    row.forEach((one, i) => {
      wall[i]?.push(one.us);
      cpu[i]?.push(one.cpuUs);
      wallRatio[i]?.push(one.us / first.us);
      cpuRatio[i]?.push(one.cpuUs / first.cpuUs);
    });
  }
  counts.forEach((n, i) => {
    console.log(
      `sink lanes: ${String(n).padStart(6)} serves × 1 record (${total} records in all, median of ${rounds}): ${median(wall[i] ?? []).toFixed(1)} µs/record (${median(wallRatio[i] ?? []).toFixed(2)}× ${counts[0]} serves), CPU ${median(cpu[i] ?? []).toFixed(1)} µs/record (${median(cpuRatio[i] ?? []).toFixed(2)}×)`,
    );
  });
  const last = counts.length - 1;
  console.log(
    `sink lanes: ratio ${counts[last]} ÷ ${counts[0]} serves per record: CPU ${median(cpuRatio[last] ?? []).toFixed(2)}× (rounds: ${(cpuRatio[last] ?? []).map((x) => x.toFixed(2)).join(' ')}), wall ${median(wallRatio[last] ?? []).toFixed(2)}×; ${posts} posts`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
