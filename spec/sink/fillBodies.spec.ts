// fillBodies' buffers: what it asks the supply for, what it gives back, and which bytes of a body
// it may touch. Timing is in marbles/sink/fillBodies.marbles.ts; here every source is synchronous
// and completion closes the last body.
import { from, lastValueFrom, toArray } from 'rxjs';
import { fillBodies, MIN_RECORD_BYTES, type BodySupply, type FillOptions, type FilledBody } from '../../src/sink/fillBodies';

const HEADROOM = 8;
// An item of 1/16.5 of MIN_RECORD_BYTES: 40 of them take a body from MIN_RECORD_BYTES to 4× it.
const UNIT = Math.floor(MIN_RECORD_BYTES / 16.5);
const SENTINEL = 0xa5;
const SLACK = 64; // extra bytes a generous supply hands out beyond what was asked

/** A supply that records what it was asked for and given, handing out sentinel-filled buffers. */
class RecordingSupply implements BodySupply {
  readonly asked: number[] = [];
  readonly taken: Buffer[] = [];
  readonly given: Buffer[] = [];
  constructor(private readonly slack = 0) {}
  readonly take = (bytes: number): Buffer => {
    const b = Buffer.alloc(bytes + this.slack, SENTINEL);
    this.asked.push(bytes);
    this.taken.push(b);
    return b;
  };
  readonly give = (buffer: Buffer): void => {
    this.given.push(buffer);
  };
}

/** Items are strings written as latin1, one frame each. */
function fill(items: string[], bodies: BodySupply, overrides: Partial<FillOptions<string>> = {}): Promise<FilledBody<string>[]> {
  const options: FillOptions<string> = {
    maxFrames: 1_000_000,
    maxBytes: 1 << 20,
    flushIntervalMs: 60_000,
    headroom: HEADROOM,
    write: (s, target, at, end) => (s.length > end - at ? -s.length : target.write(s, at, 'latin1')),
    framesOf: () => 1,
    accept: () => true,
    bodies,
    ...overrides,
  };
  return lastValueFrom(from(items).pipe(fillBodies(options), toArray()));
}

const records = (b: FilledBody<string>): string => b.buffer.toString('latin1', b.start, b.end);
/** `count` items of `bytes` bytes each, a letter each, cycling (so a lost or moved one shows). */
const items = (count: number, bytes: number): string[] =>
  Array.from({ length: count }, (_, i) => String.fromCharCode(0x41 + (i % 58)).repeat(bytes));

describe('fillBodies buffers', () => {
  it('asks for headroom + MIN_RECORD_BYTES for the first body, or headroom + maxBytes when that is less', async () => {
    const roomy = new RecordingSupply();
    await fill(['a'], roomy);
    expect(roomy.asked).toEqual([HEADROOM + MIN_RECORD_BYTES]);
    const capped = new RecordingSupply();
    await fill(['a'], capped, { maxBytes: 1000 });
    expect(capped.asked).toEqual([HEADROOM + 1000]);
  });

  it("starts a quiet serve's body at a record or two, with a quarter of it in front for notices: 10,000 quiet serves hold 10,000 of them", async () => {
    const supply = new RecordingSupply();
    const bodies = await fill(['x'.repeat(300)], supply, { headroom: 4096 });
    expect(supply.asked).toEqual([MIN_RECORD_BYTES + MIN_RECORD_BYTES / 4]);
    expect(supply.asked[0]).toBeLessThanOrEqual(2048);
    expect(bodies[0]?.start).toBe(MIN_RECORD_BYTES / 4);
    expect(records(bodies[0] as FilledBody<string>)).toBe('x'.repeat(300));
  });

  it('grows a full body by doubling, copying the records written before, and gives the outgrown buffers back', async () => {
    const supply = new RecordingSupply();
    const written = items(40, UNIT); // 2.4× MIN_RECORD_BYTES: 1×, then 2×, then 4×
    const bodies = await fill(written, supply);
    expect(supply.asked).toEqual([HEADROOM + MIN_RECORD_BYTES, HEADROOM + 2 * MIN_RECORD_BYTES, HEADROOM + 4 * MIN_RECORD_BYTES]);
    expect(bodies).toHaveLength(1);
    expect(bodies[0]?.buffer).toBe(supply.taken[2]);
    expect(records(bodies[0] as FilledBody<string>)).toBe(written.join(''));
    expect(supply.given).toHaveLength(2);
    expect(supply.given[0]).toBe(supply.taken[0]);
    expect(supply.given[1]).toBe(supply.taken[1]);
  });

  it('grows into a buffer bigger than it asked for (a pooled one) in place: no copy, nothing taken', async () => {
    const supply = new RecordingSupply(4 * MIN_RECORD_BYTES); // every buffer has room for 4× MIN_RECORD_BYTES more
    const written = items(40, UNIT); // would grow 1× → 2× → 4× MIN_RECORD_BYTES
    const bodies = await fill(written, supply);
    expect(supply.asked).toEqual([HEADROOM + MIN_RECORD_BYTES]);
    expect(supply.given).toEqual([]);
    expect(bodies[0]?.buffer).toBe(supply.taken[0]);
    expect(records(bodies[0] as FilledBody<string>)).toBe(written.join(''));
  });

  it('starts the next body at the capacity the last one needed, and a quiet one small again', async () => {
    const supply = new RecordingSupply();
    const busy = items(40, UNIT); // closed by maxFrames after growing to 4× MIN_RECORD_BYTES
    const quiet = items(40, 10); // starts at 4×; closed by maxFrames holding 400 bytes
    const bodies = await fill([...busy, ...quiet, 'z'], supply, { maxFrames: 40 });
    expect(bodies.map(records)).toEqual([busy.join(''), quiet.join(''), 'z']);
    expect(supply.asked).toEqual([
      HEADROOM + MIN_RECORD_BYTES,
      HEADROOM + 2 * MIN_RECORD_BYTES,
      HEADROOM + 4 * MIN_RECORD_BYTES,
      HEADROOM + 4 * MIN_RECORD_BYTES,
      HEADROOM + MIN_RECORD_BYTES,
    ]);
  });

  it('gives a lone giant a body of its own size, and does not make the next body giant', async () => {
    const maxBytes = MIN_RECORD_BYTES / 2;
    const giant = 'G'.repeat(10_000);
    const cut = new RecordingSupply();
    const bodies = await fill(['a'.repeat(50), giant, 'b'.repeat(50)], cut, { maxBytes });
    expect(bodies.map(records)).toEqual(['a'.repeat(50), giant, 'b'.repeat(50)]);
    expect(cut.asked).toEqual([HEADROOM + maxBytes, HEADROOM + 10_000, HEADROOM + maxBytes]);
    expect(cut.given).toEqual([]);

    // Arriving at an empty body, the giant trades it (given back unused) for one that fits.
    const first = new RecordingSupply();
    const alone = await fill([giant, 'b'], first, { maxBytes });
    expect(alone.map(records)).toEqual([giant, 'b']);
    expect(first.asked).toEqual([HEADROOM + maxBytes, HEADROOM + 10_000, HEADROOM + maxBytes]);
    expect(first.given).toHaveLength(1);
    expect(first.given[0]).toBe(first.taken[0]);
  });

  it('never writes records past headroom + the capacity asked for, even in a bigger buffer', async () => {
    // 30-byte items leave less than 30 bytes at the end of each capacity (1000, then 16 KiB, 32
    // KiB): the next item fits the supply's slack, so only the limit keeps it out.
    for (const [maxBytes, count] of [
      [1000, 100],
      [1 << 20, 1500],
    ] as const) {
      const supply = new RecordingSupply(SLACK);
      const written = items(count, 30);
      const bodies = await fill(written, supply, { maxBytes });
      expect(bodies.map(records).join('')).toBe(written.join(''));
      supply.taken.forEach((b, i) => {
        const asked = supply.asked[i] as number;
        expect(b.length).toBe(asked + SLACK);
        expect(b.subarray(asked).every((x) => x === SENTINEL)).toBe(true);
      });
    }
  });

  it('leaves the headroom in front of the records untouched', async () => {
    // Frames are an item's length here, so that an item can move to the next body on maxFrames.
    let last = '';
    const byLength: Partial<FillOptions<string>> = {
      write: (s, target, at, end) => {
        last = s;
        return s.length > end - at ? -s.length : target.write(s, at, 'latin1');
      },
      framesOf: () => last.length,
    };
    const scenarios: [string[], Partial<FillOptions<string>>, string[]][] = [
      // Growth (a copied body), a cut before a giant, the giant alone, a body after it.
      [[...items(40, 1000), 'x'.repeat(70_000), 'y', 'z'], { maxBytes: 1 << 16 }, [items(40, 1000).join(''), 'x'.repeat(70_000), 'yz']],
      // a(1) + bb(2) is full; ddd(3) would pass maxFrames with c, so it moves to a body of its own.
      [['a', 'bb', 'c', 'ddd'], { ...byLength, maxFrames: 3 }, ['abb', 'c', 'ddd']],
    ];
    for (const [written, overrides, expected] of scenarios) {
      const supply = new RecordingSupply();
      const bodies = await fill(written, supply, overrides);
      expect(bodies.map(records)).toEqual(expected);
      for (const b of supply.taken) expect(b.subarray(0, HEADROOM).every((x) => x === SENTINEL)).toBe(true);
    }
  });
});
