// The spool's on-disk format: a batch survives the round trip whole, and a damaged segment (cut
// anywhere, any byte changed) gives back every intact batch before the damage and nothing else.
import fc from 'fast-check';
import { crc32 } from 'node:zlib';
import * as E from 'fp-ts/Either';
import { Secret } from '../../src/secret';
import { FIELD_MAX_CHARS, parseServes } from '../../src/servedb';
import {
  checkHeader,
  decodePayload,
  encodeRecord,
  HEADER_BYTES,
  scanSegment,
  STATE_AT,
  STATE_DELIVERED,
  type SpooledBatch,
} from '../../src/spool/format';

const batchArb: fc.Arbitrary<SpooledBatch> = fc.record({
  socketPath: fc.string({ minLength: 1, maxLength: 40 }),
  identity: fc.string({ maxLength: 20 }),
  name: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
  user: fc.string({ maxLength: 10 }),
  token: fc.string({ maxLength: 40 }),
  body: fc.uint8Array({ maxLength: 300 }),
  gzipped: fc.boolean(),
  frameCount: fc.nat(10_000),
  logFrames: fc.nat(10_000),
  dropCount: fc.nat(),
  lostCount: fc.nat(),
  createdAtMs: fc.integer({ min: 0, max: 4_000_000_000_000 }),
}).map((r) => ({
  serve: { socketPath: r.socketPath, identity: r.identity, name: r.name, target: { url: 'https://logplex.example/logs', user: r.user, token: new Secret(r.token) } },
  body: Buffer.from(r.body),
  gzipped: r.gzipped,
  frameCount: r.frameCount,
  logFrames: r.logFrames,
  dropCount: r.dropCount,
  lostCount: r.lostCount,
  createdAtMs: r.createdAtMs,
}));

/** Comparable form: the token revealed, the body as bytes. */
function plain(b: SpooledBatch): unknown {
  return { ...b, serve: { ...b.serve, target: { ...b.serve.target, token: b.serve.target.token.reveal() } }, body: [...b.body] };
}

function segmentOf(batches: readonly SpooledBatch[]): { segment: Buffer; ends: number[] } {
  const records = batches.map(encodeRecord);
  const ends: number[] = [];
  let end = 0;
  for (const r of records) ends.push((end += r.length));
  return { segment: Buffer.concat(records), ends };
}

describe('spool format', () => {
  it('uses the CRC32 everyone uses (zlib.crc32 of "123456789" is 0xCBF43926)', () => {
    expect(crc32('123456789')).toBe(0xcbf43926);
  });

  it('gives back every batch of a whole segment, in order, pending', () => {
    fc.assert(
      fc.property(fc.array(batchArb, { maxLength: 8 }), (batches) => {
        const { segment } = segmentOf(batches);
        const scan = scanSegment(segment);
        expect(scan.stop).toBe('end');
        expect(scan.validBytes).toBe(segment.length);
        expect(scan.records.map((r) => plain(r.batch))).toEqual(batches.map(plain));
        expect(scan.records.every((r) => !r.delivered)).toBe(true);
      }),
    );
  });

  it('cut at any point: every batch wholly before the cut, nothing else, and the tail is torn', () => {
    fc.assert(
      fc.property(fc.array(batchArb, { minLength: 1, maxLength: 6 }), fc.double({ min: 0, max: 1, noNaN: true }), (batches, where) => {
        const { segment, ends } = segmentOf(batches);
        const cut = Math.floor(where * segment.length);
        const scan = scanSegment(segment.subarray(0, cut));
        const whole = ends.filter((e) => e <= cut).length;
        expect(scan.records.map((r) => plain(r.batch))).toEqual(batches.slice(0, whole).map(plain));
        expect(scan.validBytes).toBe(whole === 0 ? 0 : ends[whole - 1]);
        expect(scan.skippedBytes).toBe(cut - scan.validBytes);
        expect(scan.stop).toBe(scan.skippedBytes === 0 ? 'end' : 'torn');
      }),
    );
  });

  it('any byte changed: every batch before the damaged record, nothing invented', () => {
    fc.assert(
      fc.property(
        fc.array(batchArb, { minLength: 1, maxLength: 6 }),
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        fc.integer({ min: 1, max: 255 }),
        (batches, where, xor) => {
          const { segment, ends } = segmentOf(batches);
          const at = Math.floor(where * segment.length);
          const damaged = Buffer.from(segment);
          damaged[at] ^= xor;
          const hit = ends.findIndex((e) => at < e); // the record the byte belongs to
          const scan = scanSegment(damaged);
          const stateByteHit = at === (hit === 0 ? 0 : ends[hit - 1]) + STATE_AT;
          if (stateByteHit && damaged[at] === STATE_DELIVERED) {
            // Outside the CRC by design (store.ts rewrites it): the batch reads as delivered, so it
            // is lost, never duplicated or invented; everything else reads as before.
            expect(scan.records.map((r) => plain(r.batch))).toEqual(batches.map(plain));
            expect(scan.records.map((r) => r.delivered)).toEqual(batches.map((_, i) => i === hit));
            return;
          }
          expect(scan.records.map((r) => plain(r.batch))).toEqual(batches.slice(0, hit).map(plain));
          expect(scan.stop).not.toBe('end'); // torn when a corrupt length points past the end
          expect(scan.validBytes + scan.skippedBytes).toBe(segment.length);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('reads the delivered mark, and a zero-filled tail (a file system after power loss) as damage', () => {
    const [a, b] = fc.sample(batchArb, 2) as [SpooledBatch, SpooledBatch];
    const { segment } = segmentOf([a, b]);
    segment[STATE_AT] = STATE_DELIVERED;
    const withZeros = Buffer.concat([segment, Buffer.alloc(64)]);
    const scan = scanSegment(withZeros);
    expect(scan.records.map((r) => r.delivered)).toEqual([true, false]);
    expect(scan.stop).toBe('corrupt');
    expect(scan.skippedBytes).toBe(64);
  });

  it('refuses a header claiming an absurd length without reading it', () => {
    const [a] = fc.sample(batchArb, 1) as [SpooledBatch];
    const record = encodeRecord(a);
    record.writeUInt32BE(0xfffffff0, 4);
    expect(checkHeader(record)).toEqual({ ok: false, problem: 'bad_length' });
    expect(decodePayload(3, 0, Buffer.alloc(2))).toBeUndefined();
    expect(HEADER_BYTES).toBe(13);
  });

  it('takes any serve the serve db accepts: every field at its bound, of the characters JSON makes longest', () => {
    // \u0001 is six bytes in JSON; a URL's non-ASCII characters are nine once percent-encoded.
    const worst = '\u0001';
    const base = 'https://';
    const userinfo = `${'%01'.repeat(200)}:tok@logplex.example.com/`;
    const url = base + userinfo + '€'.repeat(FIELD_MAX_CHARS.url - base.length - userinfo.length);
    const text = JSON.stringify({
      serves: [
        { i: worst.repeat(FIELD_MAX_CHARS.i), t: '"'.repeat(FIELD_MAX_CHARS.t), p: `/${worst.repeat(106)}`, name: worst.repeat(FIELD_MAX_CHARS.name) },
        { i: worst.repeat(FIELD_MAX_CHARS.i), url, p: '/run/b.sock', name: worst.repeat(FIELD_MAX_CHARS.name) },
      ],
    });
    const parsed = parseServes(text, { logplexUrl: new URL('https://logplex.example/logs') });
    if (E.isLeft(parsed)) throw new Error(parsed.left.problems.join('\n'));
    for (const serve of parsed.right) {
      const batch: SpooledBatch = { serve, body: Buffer.from('x'), gzipped: false, frameCount: 1, logFrames: 1, dropCount: 0, lostCount: 0, createdAtMs: 1 };
      const scan = scanSegment(encodeRecord(batch));
      expect(scan.records.map((r) => plain(r.batch))).toEqual([plain(batch)]);
    }
  });

  it('takes a serve past the serve db\'s bounds too (a 70,000-character identity)', () => {
    const [a] = fc.sample(batchArb, 1) as [SpooledBatch];
    const batch = { ...a, serve: { ...a.serve, identity: 'x'.repeat(70_000) } };
    expect(scanSegment(encodeRecord(batch)).records.map((r) => plain(r.batch))).toEqual([plain(batch)]);
  });
});
