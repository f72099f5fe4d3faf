// `npm run bench:lanes [-- --serves 10,100,1000,10000] [--total 10000]`: what a record costs the
// sink as the number of serves grows. N serves each send one record through the real sink
// (formatter, lanes, outboxes) to a transport that answers every post at once, and the input
// ends; the figure is the wall time from the first record to the sink's completion, per record,
// over total/N such runs (so every row is `total` records), and the process's CPU time over the
// same span (wall time on a shared machine includes other processes' turns). Serves scale when the figure stays
// flat: lanes and outboxes live in Maps by socket path, where groupBy + mergeMap kept them in
// arrays searched linearly as each ended. Printed, never asserted.
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

async function main(): Promise<void> {
  const total = Number(arg('total', '10000'));
  const counts = arg('serves', '10,100,1000,10000')
    .split(',')
    .map(Number);
  await perRecordUs(100, 2000); // warm-up: JIT, the formatter's caches
  const first = await perRecordUs(counts[0] as number, total);
  for (const n of counts) {
    const { us, cpuUs, posts } = n === counts[0] ? first : await perRecordUs(n, total);
    console.log(
      `sink lanes: ${String(n).padStart(6)} serves × 1 record (${total} records in all): ${us.toFixed(1)} µs/record (${(us / first.us).toFixed(2)}× ${counts[0]} serves), CPU ${cpuUs.toFixed(1)} µs/record (${(cpuUs / first.cpuUs).toFixed(2)}×), ${posts} posts`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
