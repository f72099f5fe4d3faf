// Every tunable of the logplex sink, with its default and the reason for it, in one place.
// The daemon leaves unset flags undefined (daemon/config.ts) so that these stay the only defaults.

import { CollectorError } from '../errors';
import { packageVersion } from '../packageVersion';

/** How failed posts are retried (retryWithBackoff.ts). */
export interface RetryPolicy {
  readonly baseDelayMs: number; // delay before the first retry; doubles on each further one
  readonly maxDelayMs: number; // ceiling of the doubling, so a long outage is polled, not abandoned
  readonly maxAttempts: number; // total tries of one body, the first included
  readonly maxAgeMs: number; // no retry starts later than this after the first try
  readonly jitter: number; // 0..1: share of each delay that is randomised, so serves do not retry in lockstep
  readonly maxRetryAfterMs: number; // longest wait a Retry-After from logplex can ask for; longer hints are cut to it
}

export interface SinkOptions {
  readonly flushIntervalMs: number; // longest a frame waits in an open batch
  readonly maxBatchFrames: number; // frames per POST
  readonly maxBatchBytes: number; // body bytes per POST (before gzip)
  readonly concurrency: number; // POSTs in flight (or retrying) per serve
  readonly maxPostsInFlight: number; // first tries of POSTs in flight across every serve of the sink (postSlots.ts)
  readonly bufferCapBytes: number; // per serve: frame bytes batched, waiting, in flight or retrying
  readonly connectTimeoutMs: number; // TCP + TLS handshake
  readonly headersTimeoutMs: number; // request sent → response headers received
  readonly bodyTimeoutMs: number; // gap between response body chunks
  readonly postDeadlineMs: number; // one attempt, start to end of the answer's body, whatever its pace
  readonly keepAliveTimeoutMs: number; // idle connection kept for the next batch
  readonly retry: RetryPolicy;
  readonly gzip: boolean; // Content-Encoding: gzip on bodies
  readonly laneIdleMs: number; // a serve without records this long is retired: its lane closes, its counts fold into the totals
  readonly statsIntervalMs: number; // stats snapshots are published at most this often (the first of a burst at once, the last at the end)
  readonly userAgent: string; // User-Agent header
}

/** What callers pass: any subset, `retry` merged field by field. */
export type SinkOptionsInput = Partial<Omit<SinkOptions, 'retry'>> & { readonly retry?: Partial<RetryPolicy> };


export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  // Logplex 503s are usually a node being rotated out: a quick first retry often lands elsewhere.
  baseDelayMs: 250,
  // Ten seconds between tries of a long outage: at concurrency 4 that is under one request a
  // second per serve, cheap for logplex, and delivery resumes within ~10 s of logplex's return
  // (with 30 s the bench's outage scenario resumed 19 s after).
  maxDelayMs: 10_000,
  // The age limit below is what ends a retry run in practice (5 minutes is ~35 tries at these
  // delays); this only caps pathological flapping.
  maxAttempts: 40,
  // Five minutes of retrying at concurrency 4 holds the bytes a busy serve produces in that time;
  // beyond that the buffer is full anyway and newer logs are worth more than older ones.
  maxAgeMs: 5 * 60_000,
  // Half of each delay random: spreads many serves' retries after a shared logplex outage.
  jitter: 0.5,
  // A 429 or 503 may say when to come back (Retry-After): we wait at least that long, as asked,
  // but no more than a minute per try: meanwhile the serve keeps reading, and at the buffer cap
  // drops, so an unbounded hint would turn into lost logs.
  maxRetryAfterMs: 60_000,
};

export const DEFAULT_SINK_OPTIONS: SinkOptions = {
  // A quarter second: `heroku logs --tail` feels live and a quiet database still gets batches.
  flushIntervalMs: 250,
  // Ten times log-shuttle's 500. Under load the POSTs a serve can have in flight (concurrency 4),
  // not bytes, cap delivery: each round trip also waits for an event-loop turn busy decoding.
  // Bench throughput (8×50k records offered at 110k/s, ~5.5 frames of ~180 bytes a record):
  // 500 frames delivered 27.7k records/s (unpaced); 2000 dropped 20-55k records at the buffer cap and
  // delivered 89-97k/s; 5000 drops none and delivers 102-103k/s, at less CPU per record (fewer
  // requests). With ordinary lines the byte cap below closes a batch first (5000 × 200 B ≈ 1 MB);
  // the frame cap only bounds bodies of very short lines. A quiet serve is unaffected: its batches
  // close on the flush interval long before either cap.
  maxBatchFrames: 5000,
  // 5000 frames of up to 10 KiB could reach 50 MiB; 1 MiB keeps a single POST short enough to finish
  // well inside the timeouts and a retry cheap.
  maxBatchBytes: 1024 * 1024,
  // log-shuttle's default outlet count: enough to hide round-trip latency, few enough not to
  // look like a flood to logplex when a noisy database catches up.
  concurrency: 4,
  // Every serve's requests share one undici Pool per logplex origin, which opens a connection per
  // request it cannot queue on an idle one: 10,000 serves flushing in the same turn asked for
  // 10,000 requests at once. A quiet serve posts every flushIntervalMs, so 10,000 of them at a
  // 20 ms round trip keep about 800 posts in flight: 1024 bounds the connections and the posting
  // state alive at once without slowing them; past it, batches wait on their serve's ledger and
  // slots go round the serves in turn.
  maxPostsInFlight: 1024,
  // Holds about two minutes of a very busy serve (a few thousand 200-byte lines a second) through a
  // logplex outage; a collector with a hundred serves is bounded at a few GiB only if all are full.
  bufferCapBytes: 32 * 1024 * 1024,
  // The Go original had no timeouts and a hung logplex froze it; these bound every stage of a POST.
  connectTimeoutMs: 10_000,
  // Logplex answers in milliseconds; 30 s means it is hung, and the batch is better retried.
  headersTimeoutMs: 30_000,
  // Logplex replies with an empty body; any gap this long is a stuck connection.
  bodyTimeoutMs: 30_000,
  // The timeouts above bound gaps, not totals: a logplex that answers 200 with Content-Length:
  // 1000 and sends a byte every 5 s never trips them, and held all 4 posting slots of a serve
  // with nothing delivered and nothing logged. A healthy post of a full 1 MiB body
  // takes well under a second; a minute is a hung peer by any measure, and short enough that a
  // serve's buffer (two minutes of a busy serve) is not full before the retry.
  postDeadlineMs: 60_000,
  // Batches come every flush interval; keeping the connection a few seconds saves a TLS handshake each time.
  keepAliveTimeoutMs: 10_000,
  retry: DEFAULT_RETRY_POLICY,
  // Off by default as in log-shuttle: logplex is usually near and CPU on the database host is dearer than bandwidth.
  gzip: false,
  // Serves come and go with tenants; a lane (queue, batcher, counters) kept for every serve ever
  // seen would grow without bound. Ten minutes without a line is long for a live database (its
  // checkpoints log more often than that) and closing a lane is cheap: the next line opens one.
  laneIdleMs: 10 * 60_000,
  // A snapshot copies every live serve's counters; published on every batch formed and settled,
  // that was quadratic in the number of serves: 10,000 serves sending one record each took 87 s
  // to finish, with the event loop held throughout. At most ten a second costs a few ms a second
  // at 10,000 serves, and no reader (the stats line, metrics) looks more often.
  statsIntervalMs: 100,
  userAgent: `pg-logplexcollector/${packageVersion()}`,
};

/** Validation failure of an option, named by path as the daemon prints it. */
export class SinkOptionsError extends CollectorError {
  readonly code = 'SINK_OPTIONS_INVALID';
  override readonly name = 'SinkOptionsError';
}

function positive(path: string, value: number, allowZero = false): void {
  const ok = Number.isFinite(value) && (allowZero ? value >= 0 : value > 0);
  if (!ok) throw new SinkOptionsError(`sink.${path}: must be a ${allowZero ? 'non-negative' : 'positive'} number, got ${value}`);
}

/** Defaults filled in and every number checked, so the pipeline never sees a NaN interval or a zero cap. */
export function resolveSinkOptions(input: SinkOptionsInput = {}): SinkOptions {
  const { retry, ...rest } = input;
  const definedRest = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
  const definedRetry = Object.fromEntries(Object.entries(retry ?? {}).filter(([, v]) => v !== undefined));
  const o: SinkOptions = {
    ...DEFAULT_SINK_OPTIONS,
    ...definedRest,
    retry: { ...DEFAULT_RETRY_POLICY, ...definedRetry },
  };
  positive('flushIntervalMs', o.flushIntervalMs);
  positive('maxBatchFrames', o.maxBatchFrames);
  positive('maxBatchBytes', o.maxBatchBytes);
  positive('concurrency', o.concurrency);
  positive('maxPostsInFlight', o.maxPostsInFlight);
  positive('bufferCapBytes', o.bufferCapBytes);
  positive('connectTimeoutMs', o.connectTimeoutMs);
  positive('headersTimeoutMs', o.headersTimeoutMs);
  positive('bodyTimeoutMs', o.bodyTimeoutMs);
  positive('postDeadlineMs', o.postDeadlineMs);
  positive('keepAliveTimeoutMs', o.keepAliveTimeoutMs);
  positive('laneIdleMs', o.laneIdleMs);
  positive('statsIntervalMs', o.statsIntervalMs, true);
  positive('retry.baseDelayMs', o.retry.baseDelayMs, true);
  positive('retry.maxDelayMs', o.retry.maxDelayMs, true);
  positive('retry.maxAttempts', o.retry.maxAttempts);
  positive('retry.maxAgeMs', o.retry.maxAgeMs, true);
  positive('retry.maxRetryAfterMs', o.retry.maxRetryAfterMs, true);
  if (!(o.retry.jitter >= 0 && o.retry.jitter <= 1)) {
    throw new SinkOptionsError(`sink.retry.jitter: must be between 0 and 1, got ${o.retry.jitter}`);
  }
  return o;
}
