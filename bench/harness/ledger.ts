// Which records went out and which came back, by marker (`marker=<backend>-<seq>`, one per
// synthetic record, in exactly one of its frames). Send times are noted by the emulator just
// before each write (live, or in bulk from an emulator child at the end); bodies are scanned as
// raw bytes at the stand-in, so that counting keeps up with 100k+ records/s without building a
// frame object per line. Latency is matched up at the end, so either order of the two works.
import type { AcceptedBody } from '../../src/tools/logplexStandIn';

const MARKER = Buffer.from('marker=');
const L10 = Buffer.from('Error L10 (output buffer overflow): ');
const SPACE = 0x20;
const DASH = 0x2d;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

/** A clock both sides of a process boundary agree on: epoch milliseconds with sub-ms precision. */
export const nowMs = (): number => performance.timeOrigin + performance.now();

export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export interface LedgerSummary {
  readonly noted: number; // records the emulator was about to write
  readonly received: number; // distinct markers the stand-in accepted
  readonly duplicated: number; // markers accepted more than once (extra copies)
  readonly missing: number; // noted, never received
  readonly misrouted: number; // markers that arrived under another serve's token
  readonly unknown: number; // markers no one noted (would mean a harness bug)
  readonly bodies: number;
  readonly frames: number; // all frames accepted, L10 notices included
  readonly l10Frames: number;
  readonly l10Dropped: number; // sum of N over `N messages dropped` notices
  readonly l10Lost: number; // sum of N over `N messages lost` notices
  readonly firstNotedAt: number | undefined; // nowMs()
  readonly lastReceivedAt: number | undefined;
  readonly latency: LatencySummary;
}

/** Percentile of sorted values, nearest rank. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

export class MarkerLedger {
  readonly #sentAt: Float64Array[]; // per backend, index seq; 0 = not noted
  readonly #seen: Uint8Array[]; // per backend, index seq: times received (saturating)
  readonly #receivedAt: Float64Array[]; // per backend, index seq: first receipt
  #duplicated = 0;
  #misrouted = 0;
  #outOfRange = 0;
  #bodies = 0;
  #frames = 0;
  #l10Frames = 0;
  #l10Dropped = 0;
  #l10Lost = 0;
  #firstNotedAt: number | undefined;
  #lastReceivedAt: number | undefined;

  /**
   * `backends` global backend ids 0..backends-1, each sending seq 1..recordsPerBackend;
   * `tokenOf(backend)` is the token its records must arrive under.
   */
  constructor(
    readonly backends: number,
    readonly recordsPerBackend: number,
    readonly tokenOf: (backend: number) => string,
  ) {
    this.#sentAt = Array.from({ length: backends }, () => new Float64Array(recordsPerBackend + 1));
    this.#seen = Array.from({ length: backends }, () => new Uint8Array(recordsPerBackend + 1));
    this.#receivedAt = Array.from({ length: backends }, () => new Float64Array(recordsPerBackend + 1));
  }

  noteSent(backend: number, seq: number, at: number = nowMs()): void {
    const row = this.#sentAt[backend];
    if (row === undefined || seq >= row.length) throw new Error(`ledger: backend ${backend} seq ${seq} out of range`);
    row[seq] = at;
    if (this.#firstNotedAt === undefined || at < this.#firstNotedAt) this.#firstNotedAt = at;
  }

  /** Send times of one backend, index seq (0 = not sent), as an emulator child reports them. */
  noteSentTimes(backend: number, times: Float64Array): void {
    const row = this.#sentAt[backend];
    if (row === undefined || times.length > row.length) throw new Error(`ledger: backend ${backend} out of range`);
    row.set(times);
    for (const at of times) if (at !== 0 && (this.#firstNotedAt === undefined || at < this.#firstNotedAt)) this.#firstNotedAt = at;
  }

  /** The stand-in's onBody: scan markers and L10 notices in one accepted body. */
  onBody(accepted: AcceptedBody, at: number = nowMs()): void {
    const { body, token } = accepted;
    this.#bodies++;
    this.#frames += accepted.frameCount;
    this.#lastReceivedAt = at;
    let frameEnd = 0; // one past the frame that holds the current hit, walked by length prefixes
    let p = body.indexOf(MARKER, 0);
    while (p >= 0) {
      // A marker ends its frame's message or a line: bound the digits by the frame, or the next
      // frame's length prefix would read as more digits.
      while (frameEnd <= p) frameEnd = nextFrameEnd(body, frameEnd);
      let q = p + MARKER.length;
      let backend = 0;
      while (q < frameEnd && (body[q] as number) >= DIGIT_0 && (body[q] as number) <= DIGIT_9) backend = backend * 10 + (body[q++] as number) - DIGIT_0;
      let seq = -1;
      if (body[q] === DASH) {
        q++;
        seq = 0;
        while (q < frameEnd && (body[q] as number) >= DIGIT_0 && (body[q] as number) <= DIGIT_9) seq = seq * 10 + (body[q++] as number) - DIGIT_0;
      }
      this.#receive(backend, seq, token, at);
      p = body.indexOf(MARKER, q);
    }
    let n = body.indexOf(L10, 0);
    while (n >= 0) {
      // `Error L10 (output buffer overflow): 120 messages dropped since …`
      const rest = body.toString('latin1', n + L10.length, Math.min(body.length, n + L10.length + 40));
      const m = /^(\d+) messages (dropped|lost)/.exec(rest);
      if (m !== null) {
        this.#l10Frames++;
        if (m[2] === 'dropped') this.#l10Dropped += Number(m[1]);
        else this.#l10Lost += Number(m[1]);
      }
      n = body.indexOf(L10, n + L10.length);
    }
  }

  #receive(backend: number, seq: number, token: string, at: number): void {
    const seen = this.#seen[backend];
    if (seen === undefined || seq < 1 || seq >= seen.length) {
      this.#outOfRange++;
      return;
    }
    if (token !== this.tokenOf(backend)) this.#misrouted++;
    const times = seen[seq] as number;
    if (times < 255) seen[seq] = times + 1;
    if (times > 0) this.#duplicated++;
    else (this.#receivedAt[backend] as Float64Array)[seq] = at;
  }

  /**
   * Every record slot, noted or not: its backend and seq, when it was noted (0: never), whether
   * it arrived, and when (meaningful only if it did). What the questions below walk.
   */
  #each(visit: (backend: number, seq: number, sentAt: number, seen: boolean, receivedAt: number) => void): void {
    for (let b = 0; b < this.backends; b++) {
      const sent = this.#sentAt[b] as Float64Array;
      const seen = this.#seen[b] as Uint8Array;
      const receivedAt = this.#receivedAt[b] as Float64Array;
      for (let s = 1; s < sent.length; s++) visit(b, s, sent[s] as number, seen[s] !== 0, receivedAt[s] as number);
    }
  }

  /** Noted but never received, as [backend, seq] pairs. */
  missingRecords(): Array<readonly [number, number]> {
    const missing: Array<readonly [number, number]> = [];
    this.#each((b, s, sentAt, seen) => {
      if (sentAt !== 0 && !seen) missing.push([b, s]);
    });
    return missing;
  }

  /** Records noted (sent, or tried) before `beforeMs` (nowMs()) and never received. */
  missingSentBefore(beforeMs: number): number {
    let n = 0;
    this.#each((_b, _s, sentAt, seen) => {
      if (sentAt !== 0 && sentAt < beforeMs && !seen) n++;
    });
    return n;
  }

  /** Latency of the records sent at or after `fromMs` and before `toMs` (nowMs()): live lines once a backlog is gone. */
  latencySentFrom(fromMs: number, toMs: number = Number.POSITIVE_INFINITY): LatencySummary {
    const latencies: number[] = [];
    this.#each((_b, _s, sentAt, seen, receivedAt) => {
      if (sentAt >= fromMs && sentAt < toMs && seen) latencies.push(receivedAt - sentAt);
    });
    return latencySummary(latencies);
  }

  summary(): LedgerSummary {
    let noted = 0;
    let received = 0;
    let unknown = this.#outOfRange;
    const latencies: number[] = [];
    this.#each((_b, _s, sentAt, seen, receivedAt) => {
      if (sentAt !== 0) noted++;
      if (!seen) return;
      if (sentAt === 0) unknown++; // arrived, but never sent: a harness bug
      else {
        received++;
        latencies.push(receivedAt - sentAt);
      }
    });
    return {
      noted,
      received,
      duplicated: this.#duplicated,
      missing: noted - received,
      misrouted: this.#misrouted,
      unknown,
      bodies: this.#bodies,
      frames: this.#frames,
      l10Frames: this.#l10Frames,
      l10Dropped: this.#l10Dropped,
      l10Lost: this.#l10Lost,
      firstNotedAt: this.#firstNotedAt,
      lastReceivedAt: this.#lastReceivedAt,
      latency: latencySummary(latencies),
    };
  }
}

/** p50, p99 and max of send-to-POST latencies (ms), in any order. */
function latencySummary(latencies: readonly number[]): LatencySummary {
  const sorted = Float64Array.from(latencies).sort();
  return {
    count: sorted.length,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.length === 0 ? Number.NaN : (sorted[sorted.length - 1] as number),
  };
}

/** End of the frame starting at `offset` (`<len> <msg>`); the stand-in has validated the body already. */
function nextFrameEnd(body: Buffer, offset: number): number {
  let i = offset;
  let len = 0;
  while (body[i] !== SPACE) len = len * 10 + (body[i++] as number) - DIGIT_0;
  return i + 1 + len;
}
