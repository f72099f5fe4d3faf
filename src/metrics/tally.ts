// What the metrics count, kept from the collector's public streams alone: stats$ snapshots (one
// per batch formed or settled, never per record), event$ and the serve set. Nothing here reaches
// into a stage, so a stage can change how it works as long as its events say the same things.
//
// Bounded whatever peers do: a serve has series only while it is in the serve set in force
// (the operator's file, not a peer, decides how many), and every breakdown label comes from a
// closed list, anything else counted as `other`.
import { labelBytes } from './exposition';
import type { CollectorEvent, CollectorStats } from '../collector';
import type { ServeSet } from '../servedb/serve';
import { eachInSteps, runToEnd, type Steps } from '../servedb/steps';
import type { RefusalReason } from '../source/admission';

/** Protocol error codes kept as labels (ProtocolErrorCode and the decoder's own); others are `other`. */
export const PROTOCOL_ERROR_CODES: ReadonlySet<string> = new Set([
  'LOGFEBE_UNKNOWN_TYPE',
  'LOGFEBE_BAD_ORDER',
  'LOGFEBE_BAD_LENGTH',
  'LOGFEBE_TOO_LARGE',
  'LOGFEBE_BAD_NULL_FLAG',
  'LOGFEBE_TRUNCATED_FIELD',
  'LOGFEBE_TRAILING_BYTES',
  'LOGFEBE_TRUNCATED_MESSAGE',
  'LOGFEBE_BAD_VERSION',
  'LOGFEBE_PARTIAL_LIMIT',
  'LOGFEBE_HANDSHAKE_TIMEOUT',
  'DECODER_FAILURE',
]);
// Every reason the source can give, and only those: a reason added there fails to compile here.
const REFUSAL_REASON_LIST = ['max_connections', 'unidentified_limit', 'open_file_limit'] as const satisfies readonly RefusalReason[];
type Missing = Exclude<RefusalReason, (typeof REFUSAL_REASON_LIST)[number]>;
const everyReason: Missing extends never ? true : never = true;
export const REFUSAL_REASONS: ReadonlySet<string> = everyReason && new Set<string>(REFUSAL_REASON_LIST);
/** Why lines never reached logplex: the buffer cap, a batch given up (GiveUpReason and prepare_failed), the shutdown timeout, a record that could not be formatted. */
export const DROP_REASONS: ReadonlySet<string> = new Set(['buffer_full', 'permanent', 'max_attempts', 'max_age', 'prepare_failed', 'shutdown_timeout', 'format_failed']);
/** HTTP statuses logplex is known to answer, kept as they are; others become their class (`4xx`). */
const KNOWN_STATUSES: ReadonlySet<number> = new Set([400, 401, 403, 404, 408, 413, 422, 429, 500, 502, 503, 504]);
const POST_FAILURE_CODES: ReadonlySet<string> = new Set(['timeout', 'connection', 'aborted', 'request_invalid']);
const SPOOL_OPS: ReadonlySet<string> = new Set(['open', 'append', 'read', 'ack', 'sync']);

export const OTHER = 'other';
const bounded = (value: string, allowed: ReadonlySet<string>): string => (allowed.has(value) ? value : OTHER);

/** Status label of a post: `2xx` accepted; a status logplex answered; or why it did not answer. */
export function postStatusLabel(code: string, status: number | undefined): string {
  if (status !== undefined) {
    if (KNOWN_STATUSES.has(status)) return String(status);
    return status >= 100 && status <= 599 ? `${Math.floor(status / 100)}xx` : OTHER;
  }
  return bounded(code.replace(/^LOGPLEX_/, '').toLowerCase(), POST_FAILURE_CODES);
}

const add = (counts: Map<string, number>, key: string, n: number): void => {
  counts.set(key, (counts.get(key) ?? 0) + n);
};

/** One serve in force: running totals since it came into force, and its gauges now. */
export class ServeTally {
  labelBytes: Buffer; // `serve="…",socket="…"` in UTF-8, as the exposition writes it: rendered once per name
  recordsIn = 0;
  framesOut = 0;
  bytesOut = 0;
  postsOk = 0;
  connections = 0; // identified connections open now
  accepted = 0; // connections that identified
  identityMismatches = 0;
  queuedBytes = 0;
  spoolBytes = 0;
  spoolBatches = 0;
  spoolOldestAtMs = 0; // when its oldest spooled batch was made (the age is read at render); 0: none
  readonly refused = new Map<string, number>(); // by REFUSAL_REASONS
  readonly protocolErrors = new Map<string, number>(); // by PROTOCOL_ERROR_CODES
  readonly postsFailed = new Map<string, number>(); // by postStatusLabel
  readonly linesDropped = new Map<string, number>([['buffer_full', 0]]); // by DROP_REASONS

  constructor(
    readonly socket: string,
    public name: string, // '' when the serve has none; changed by rename()
  ) {
    this.labelBytes = ServeTally.#labelBytes(name, socket);
  }

  /** `serve="…",socket="…"`. */
  get labels(): string {
    return this.labelBytes.toString();
  }

  /** Renamed: its labels change with it. */
  rename(name: string): void {
    this.name = name;
    this.labelBytes = ServeTally.#labelBytes(name, this.socket);
  }

  static #labelBytes(name: string, socket: string): Buffer {
    return labelBytes([
      ['serve', name],
      ['socket', socket],
    ]);
  }
}

// A snapshot comes only when a batch is formed or settled: while batches just wait in the spool
// (logplex down, nothing new) none comes, so the age is kept as a time and read at render.
const oldestAt = (batches: number, ageMs: number, now: number): number => (batches > 0 ? now - ageMs : 0);

/** The counters a snapshot carries per serve, as last seen (they restart at 0 with a new lane). */
interface Seen {
  recordsIn: number;
  framesOut: number;
  bytesOut: number;
  requestsOk: number;
  dropped: number;
  generation: number; // the snapshot that last carried it
}

export class CollectorTally {
  readonly #serves = new Map<string, ServeTally>(); // the serve set in force, by socket path
  readonly #seen = new Map<string, Seen>(); // every serve of the latest snapshot (bounded by the sink's lanes)
  #generation = 0;
  // While a serve set is being applied: a serve it starts may report before its step. Its paths
  // once all are known (then an event of another serve adds nothing).
  #applying: { wanted: ReadonlySet<string> | undefined } | undefined;
  latest: CollectorStats | undefined;
  serveSetAccepts = 0;
  serveSetRejects = 0;
  acceptedAtSeconds = 0; // when the set in force was accepted; 0: never
  spoolBatchesLost = 0; // pending batches given up as damaged
  spoolFull = 0; // 1 while the spool takes no batches (cap, free-space floor or error pause)
  spoolOldestAtMs = 0; // when the oldest spooled batch of all was made; 0: none waits
  readonly spoolFailures = new Map<string, number>(); // by SPOOL_OPS

  constructor(readonly now: () => number = Date.now) {}

  /** The serves in force, in the set's order, to render: a copy, so a render sees one list. */
  serves(): ServeTally[] {
    return [...this.#serves.values()];
  }

  isInForce(socket: string): boolean {
    return this.#serves.has(socket);
  }

  onServeSet(set: ServeSet): void {
    runToEnd(this.serveSetInSteps(set));
  }

  /**
   * The serve set in force becomes `set`, a few hundred serves a step (10,000 at once held the
   * loop for tens of milliseconds). New serves are added first, serves gone removed last: between
   * steps the tally holds both, and an event of a serve it has not reached yet (the source may
   * start it sooner) adds that serve, so nothing the source reports meanwhile goes uncounted.
   */
  *serveSetInSteps(set: ServeSet): Steps<void> {
    const applying: { wanted: ReadonlySet<string> | undefined } = { wanted: undefined };
    this.#applying = applying;
    const paths = new Set<string>();
    yield* eachInSteps(set, (s) => {
      paths.add(s.socketPath);
      const name = s.name ?? '';
      const tally = this.#serves.get(s.socketPath);
      if (tally === undefined) this.#serves.set(s.socketPath, new ServeTally(s.socketPath, name));
      else if (tally.name !== name) tally.rename(name);
    });
    applying.wanted = paths;
    yield;
    // Its series go with it.
    yield* eachInSteps([...this.#serves.keys()], (path) => void (paths.has(path) || this.#serves.delete(path)));
    if (this.#applying === applying) this.#applying = undefined;
  }

  // Per snapshot: add what each serve's counters gained since the last one. A serve missing from
  // a snapshot has no lane any more (retired after going quiet): its next lane counts from zero.
  onStats(stats: CollectorStats): void {
    this.latest = stats;
    const now = this.now();
    this.spoolOldestAtMs = oldestAt(stats.spoolBatches, stats.spoolOldestAgeMs, now);
    const generation = ++this.#generation;
    for (const s of stats.serves) {
      let seen = this.#seen.get(s.socketPath);
      if (seen === undefined) {
        seen = { recordsIn: 0, framesOut: 0, bytesOut: 0, requestsOk: 0, dropped: 0, generation };
        this.#seen.set(s.socketPath, seen);
      }
      const gained = (now: number, before: number): number => (now >= before ? now - before : now);
      const tally = this.#tallyOf(s.socketPath, s.name);
      if (tally !== undefined) {
        tally.recordsIn += gained(s.recordsIn, seen.recordsIn);
        tally.framesOut += gained(s.framesOut, seen.framesOut);
        tally.bytesOut += gained(s.bytesOut, seen.bytesOut);
        tally.postsOk += gained(s.requestsOk, seen.requestsOk);
        add(tally.linesDropped, 'buffer_full', gained(s.dropped, seen.dropped));
        tally.queuedBytes = s.queuedBytes;
        tally.spoolBytes = s.spoolBytes;
        tally.spoolBatches = s.spoolBatches;
        tally.spoolOldestAtMs = oldestAt(s.spoolBatches, s.spoolOldestAgeMs, now);
      }
      seen.recordsIn = s.recordsIn;
      seen.framesOut = s.framesOut;
      seen.bytesOut = s.bytesOut;
      seen.requestsOk = s.requestsOk;
      seen.dropped = s.dropped;
      seen.generation = generation;
    }
    if (this.#seen.size !== stats.serves.length) {
      for (const [path, seen] of this.#seen) {
        if (seen.generation === generation) continue;
        this.#seen.delete(path);
        const tally = this.#serves.get(path);
        if (tally !== undefined) {
          tally.queuedBytes = 0;
          tally.spoolBytes = 0;
          tally.spoolBatches = 0;
          tally.spoolOldestAtMs = 0;
        }
      }
    }
  }

  /** The serve's tally: in force, or being added by the set being applied (named by its step, removed by the last if the set has no such serve). */
  #tallyOf(socket: string, name: string | undefined): ServeTally | undefined {
    let tally = this.#serves.get(socket);
    const applying = this.#applying;
    if (tally === undefined && applying !== undefined && (applying.wanted === undefined || applying.wanted.has(socket))) {
      tally = new ServeTally(socket, name ?? '');
      this.#serves.set(socket, tally);
    }
    return tally;
  }

  onEvent(event: CollectorEvent): void {
    switch (event.kind) {
      case 'serves_accepted':
        // The set start-up began from was accepted by an earlier run: `started` dates it.
        if (event.file === 'serves.loaded') return;
        this.serveSetAccepts += 1;
        if (event.changed || this.acceptedAtSeconds === 0) this.acceptedAtSeconds = this.now() / 1000;
        return;
      case 'serves_rejected':
        this.serveSetRejects += 1;
        return;
      case 'spool_damaged':
        this.spoolBatchesLost += event.batches;
        return;
      case 'spool_failed':
        add(this.spoolFailures, bounded(event.op, SPOOL_OPS), 1);
        return;
      case 'spool_full':
        this.spoolFull = 1;
        return;
      case 'spool_resumed':
        this.spoolFull = 0;
        return;
      default:
        break;
    }
    if (!('socket' in event)) return;
    const tally = this.#tallyOf(event.socket, event.serve);
    if (tally === undefined) return; // a serve no longer in force: its series are gone
    switch (event.kind) {
      case 'connect':
        tally.accepted += 1;
        tally.connections += 1;
        break;
      case 'disconnect':
      case 'identity_mismatch':
      case 'protocol_error':
        if (event.identified) tally.connections = Math.max(0, tally.connections - 1); // as the collector counts them
        if (event.kind === 'identity_mismatch') tally.identityMismatches += 1;
        if (event.kind === 'protocol_error') add(tally.protocolErrors, bounded(event.code, PROTOCOL_ERROR_CODES), 1);
        break;
      case 'connections_refused':
        add(tally.refused, bounded(event.reason, REFUSAL_REASONS), event.refused);
        break;
      case 'post_failed':
        add(tally.postsFailed, postStatusLabel(event.code, event.status), 1);
        break;
      case 'batch_lost':
        add(tally.linesDropped, bounded(event.reason, DROP_REASONS), event.frames);
        break;
      case 'lines_abandoned':
        add(tally.linesDropped, 'shutdown_timeout', event.lines);
        break;
      case 'format_failed':
        add(tally.linesDropped, 'format_failed', 1);
        break;
      default:
        break;
    }
  }
}
