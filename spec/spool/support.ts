// What the spool's specs share: a batch numbered by its frame count, and draining a spool.
import { firstValueFrom } from 'rxjs';
import { Secret } from '../../src/secret';
import type { SpooledBatch } from '../../src/spool/format';
import type { ServeSpool } from '../../src/spool/store';

export const SOCKET = '/run/pg/a.sock';

/** Batch `n` (frameCount n) of a serve named BLUE, posting to `url` (nothing listens on the default). */
export function aBatch(n: number, socketPath = SOCKET, bodyBytes = 100, url = 'http://127.0.0.1:1/logs'): SpooledBatch {
  return {
    serve: { socketPath, identity: 'id', name: 'BLUE', target: { url, user: 'token', token: new Secret('t.secret') } },
    body: Buffer.alloc(bodyBytes, `batch ${n};`),
    gzipped: false,
    frameCount: n,
    logFrames: n,
    dropCount: 0,
    lostCount: 0,
    createdAtMs: 1_000 + n,
  };
}

export const append = (spool: ServeSpool, b: SpooledBatch) => firstValueFrom(spool.append(b));

/** Takes and acks up to `limit` batches, oldest first; their numbers. */
export async function drain(spool: ServeSpool, limit = Number.POSITIVE_INFINITY): Promise<number[]> {
  const seen: number[] = [];
  while (seen.length < limit) {
    const entry = await firstValueFrom(spool.next());
    if (entry === undefined) break;
    seen.push(entry.batch.frameCount);
    await firstValueFrom(spool.ack(entry));
  }
  return seen;
}
