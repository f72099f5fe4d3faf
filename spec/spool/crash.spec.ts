// A real crash: a child process appends to (and drains from) a spool as fast as it can, is killed
// with SIGKILL mid-stream, and a new store on the same directory finds every batch the child was
// told was appended and not acked, in order, and nothing else but the one append that may have
// been under way. Uses dist/ (npm test builds it first), as the daemon tests do.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { firstValueFrom } from 'rxjs';
import type { SpoolEvent } from '../../src/spool/events';
import { resolveSpoolOptions } from '../../src/spool/options';
import { SpoolStore } from '../../src/spool/store';

const DIST = resolve(__dirname, '../../dist');

// Appends batch 1, 2, 3... (frameCount = its number); after every third, delivers (acks) the
// oldest. Prints `a N` once append N resolved and `k N` once the ack of N resolved.
const CHILD = `
const { SpoolStore } = require(${JSON.stringify(join(DIST, 'spool/store.js'))});
const { resolveSpoolOptions } = require(${JSON.stringify(join(DIST, 'spool/options.js'))});
const { Secret } = require(${JSON.stringify(join(DIST, 'secret.js'))});
const { firstValueFrom } = require('rxjs');
const dir = process.argv[1];
(async () => {
  const store = await SpoolStore.open(resolveSpoolOptions({ dir, minFreeBytes: 0, minFreeRatio: 0, segmentBytes: 256 * 1024, syncIntervalMs: 50 }), () => {});
  const spool = store.serve('/run/crash.sock');
  const serve = { socketPath: '/run/crash.sock', identity: 'i', name: 'CRASH', target: { url: 'http://127.0.0.1:1/', user: 'token', token: new Secret('t') } };
  for (let n = 1; ; n += 1) {
    const body = Buffer.alloc(20_000 + (n % 7) * 3_000, n % 251);
    const outcome = await firstValueFrom(spool.append({ serve, body, gzipped: true, frameCount: n, logFrames: n, dropCount: 0, lostCount: 0, createdAtMs: n }));
    if (outcome !== 'spooled') throw new Error('not spooled: ' + outcome);
    process.stdout.write('a ' + n + '\\n');
    if (n % 3 === 0) {
      const entry = await firstValueFrom(spool.next());
      await firstValueFrom(spool.ack(entry));
      process.stdout.write('k ' + entry.batch.frameCount + '\\n');
    }
  }
})().catch((err) => { console.error(err); process.exit(2); });
`;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spool-crash-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function runAndKill(untilAppended: number): Promise<{ appended: number[]; acked: number[] }> {
  const child = spawn(process.execPath, ['-e', CHILD, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  const appended: number[] = [];
  const acked: number[] = [];
  let partial = '';
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<NodeJS.Signals | null>((done) => child.on('exit', (_code, signal) => done(signal)));
  await new Promise<void>((done, fail) => {
    child.stdout.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const [what, n] = line.split(' ');
        (what === 'a' ? appended : acked).push(Number(n));
      }
      if (appended.length >= untilAppended) {
        child.kill('SIGKILL'); // mid-stream: an append or an ack is almost surely under way
        done();
      }
    });
    void exited.then(() => fail(new Error(`child exited before the kill: ${stderr}`)));
  });
  expect(await exited).toBe('SIGKILL');
  return { appended, acked };
}

describe('spool after kill -9', () => {
  it('keeps every append the child saw resolve and not acked, in order, and invents nothing', async () => {
    const { appended, acked } = await runAndKill(300);
    const events: SpoolEvent[] = [];
    const store = await SpoolStore.open(resolveSpoolOptions({ dir, minFreeBytes: 0, minFreeRatio: 0 }), (e) => events.push(e));
    try {
      const spool = store.serve('/run/crash.sock');
      const found: number[] = [];
      for (;;) {
        const entry = await firstValueFrom(spool.next());
        if (entry === undefined) break;
        found.push(entry.batch.frameCount);
        expect(entry.batch.body.length).toBe(20_000 + (entry.batch.frameCount % 7) * 3_000);
        expect(entry.batch.body.every((b) => b === entry.batch.frameCount % 251)).toBe(true);
        await firstValueFrom(spool.ack(entry));
      }
      const lastAppended = Math.max(...appended);
      const ackedSet = new Set(acked);
      const expected = appended.filter((n) => !ackedSet.has(n));
      // At most one append finished after the child's last line (it may be there or not), and at
      // most one ack (that batch then is rightly not found).
      const extra = found.filter((n) => !expected.includes(n));
      const missing = expected.filter((n) => !found.includes(n));
      expect(extra.length === 0 || (extra.length === 1 && extra[0] === lastAppended + 1)).toBe(true);
      expect(missing.length).toBeLessThanOrEqual(1);
      if (missing.length === 1) expect(missing[0]).toBe(expected[0]); // the next one the child was acking
      expect(found).toEqual([...found].sort((a, b) => a - b));
      expect(found.length).toBeGreaterThan(150);
      expect(events).toContainEqual(expect.objectContaining({ kind: 'spool_recovered', serve: 'CRASH', batches: found.length }));
    } finally {
      await store.close();
    }
  });
});
