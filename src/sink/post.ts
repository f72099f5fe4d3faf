// One batch to one POST (logplex-input.md), with undici: one Pool per logplex origin, reused
// with keep-alive by every serve posting there, every stage of a request bounded by a timeout,
// and the whole of it by a deadline.
// A body is prepared once (headers, gzip) and sent as often as the retry policy says, so a
// retried body is byte-identical and carries the same Logplex-Frame-Id.
import type * as Crypto from 'node:crypto';
import { promisify } from 'node:util';
import type * as Zlib from 'node:zlib';
import { asyncScheduler, type SchedulerLike } from '../rx';
import { undiciPool, type Pool } from './undiciPool'; // not 'undici': see undiciPool.ts (memory)
import type { Serve } from '../servedb/serve';
import { isTransientStatus, PostError } from './errors';
import { errnoCode } from '../errors';
import type { SinkOptions } from './options';

/**
 * `body` gzipped at the fastest level, off the event loop: how a batch waits while logplex is
 * failing (lane.ts). Log lines deflate several times over even at level 1, and a waiting
 * body is not on the hot path, so speed matters less than taking a few milliseconds per megabyte.
 */
export function gzipFast(body: Buffer): Promise<Buffer> {
  return gzipAsync(body, { level: 1 });
}

/**
 * Off the event loop: a 1 MiB body takes milliseconds to deflate. zlib is required here, not with
 * the module: an idle daemon has nothing to deflate, and loading it costs ~0.25 MB of RSS
 * (docs/benchmarks.md, *Idle*).
 */
function gzipAsync(body: Buffer, options: Zlib.ZlibOptions = {}): Promise<Buffer> {
  const { gzip } = require('node:zlib') as typeof Zlib;
  return promisify(gzip)(body, options);
}

/** What the sink hands over: frames already concatenated, counted and attributed. */
export interface OutgoingBatch {
  readonly serve: Serve; // posted with this serve's target; all frames share its delivery
  readonly body: Buffer; // octet-counted frames; gzipped when `gzipped`
  readonly gzipped?: boolean; // the body is already gzip (held compressed while logplex was failing)
  readonly frameCount: number; // Logplex-Msg-Count: logplex checks it against the body
  readonly dropCount: number; // dropped messages announced by an L10 frame in this body, 0 if none
  readonly lostCount: number; // lost messages announced likewise
}

/** A request ready to (re)send: nothing in it changes between attempts. */
export interface PreparedPost {
  readonly origin: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>; // holds the Authorization header: never log it
  readonly body: Buffer; // exactly what goes on the wire (gzipped when enabled)
  readonly frameId: string;
}

/** 32 upper-case hex characters, as in logplex's own examples. */
export function newFrameId(): string {
  // randomUUID draws from a cached pool of entropy; randomBytes(16) asked the OS on every post.
  // Required at the first post, not with the module: an idle daemon has no use for node:crypto.
  const { randomUUID } = require('node:crypto') as typeof Crypto;
  return randomUUID().replace(/-/g, '').toUpperCase();
}

/**
 * Loads what the first post needs, so that the first batch does not wait for it: undici's Pool
 * (its modules read and compiled) and node:crypto for frame ids. The collector calls it at the
 * first backend's connection, while the first batch fills; an idle daemon holds neither.
 */
export function warmPostPath(): void {
  undiciPool();
  newFrameId();
}

export function basicAuth(serve: Serve): string {
  // The one place the token is revealed, straight into a header value.
  return `Basic ${Buffer.from(`${serve.target.user}:${serve.target.token.reveal()}`, 'utf8').toString('base64')}`;
}

export async function preparePost(
  batch: OutgoingBatch,
  options: Pick<SinkOptions, 'gzip' | 'userAgent'>,
  frameId: string = newFrameId(),
): Promise<PreparedPost> {
  const body = needsGzip(batch, options) ? await gzipAsync(batch.body) : batch.body;
  return preparedWith(batch, body, options, frameId);
}

/** True when preparing `batch` means deflating it first (preparePost); otherwise preparePostNow will do. */
export function needsGzip(batch: OutgoingBatch, options: Pick<SinkOptions, 'gzip'>): boolean {
  return options.gzip && batch.gzipped !== true;
}

/** preparePost for a batch that needs no gzip (needsGzip false): no promise, no turn of the event loop. */
export function preparePostNow(batch: OutgoingBatch, options: Pick<SinkOptions, 'gzip' | 'userAgent'>, frameId: string = newFrameId()): PreparedPost {
  if (needsGzip(batch, options)) throw new Error('preparePostNow: this batch must be gzipped first (preparePost)');
  return preparedWith(batch, batch.body, options, frameId);
}

function preparedWith(batch: OutgoingBatch, body: Buffer, options: Pick<SinkOptions, 'gzip' | 'userAgent'>, frameId: string): PreparedPost {
  const url = new URL(batch.serve.target.url);
  const gzipped = batch.gzipped === true || options.gzip;
  const headers: Record<string, string> = {
    authorization: basicAuth(batch.serve),
    'content-type': 'application/logplex-1',
    'content-length': String(body.length), // logplex refuses chunked bodies
    'logplex-msg-count': String(batch.frameCount),
    'logplex-frame-id': frameId,
    'user-agent': options.userAgent,
  };
  if (gzipped) headers['content-encoding'] = 'gzip';
  if (batch.dropCount > 0) headers['logplex-drop-count'] = String(batch.dropCount);
  if (batch.lostCount > 0) headers['logplex-lost-count'] = String(batch.lostCount);
  return { origin: url.origin, path: `${url.pathname}${url.search}`, headers, body, frameId };
}

/**
 * A Retry-After header (RFC 9110: delay-seconds or an HTTP-date) as milliseconds from `nowMs`;
 * undefined when absent or unreadable (the backoff alone decides then).
 */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number): number | undefined {
  const v = (Array.isArray(value) ? value[0] : value)?.trim();
  if (v === undefined || v === '') return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  if (!/[A-Za-z]/.test(v)) return undefined; // an HTTP-date names its day and month; "-5" is neither
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - nowMs) : undefined;
}

/** Undici's codes that mean "too slow" rather than "broken". */
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);
/** Undici's codes for requests it refused to send: our bug, the same body would fail again. */
const INVALID_CODES = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH', 'UND_ERR_NOT_SUPPORTED']);

/** Any failure of undici or the network as a PostError; unknown causes count as connection trouble. */
export function classifyRequestError(err: unknown, aborted: boolean): PostError {
  if (err instanceof PostError) return err;
  const causeCode = errnoCode(err) ?? errnoCode(err instanceof Error ? err.cause : undefined);
  const detail = err instanceof Error ? err.message : String(err);
  if (aborted || causeCode === 'UND_ERR_ABORTED' || causeCode === 'ABORT_ERR') {
    return new PostError('LOGPLEX_ABORTED', 'request aborted', { transient: false, causeCode });
  }
  if (causeCode !== undefined && TIMEOUT_CODES.has(causeCode)) {
    return new PostError('LOGPLEX_TIMEOUT', `logplex timed out: ${detail}`, { transient: true, causeCode });
  }
  if (causeCode !== undefined && INVALID_CODES.has(causeCode)) {
    return new PostError('LOGPLEX_REQUEST_INVALID', `request refused by the HTTP client: ${detail}`, { transient: false, causeCode });
  }
  return new PostError('LOGPLEX_CONNECTION', `cannot reach logplex: ${detail}`, { transient: true, causeCode });
}

export interface PostResult {
  readonly status: number;
  readonly bytes: number; // body bytes on the wire
}

type ClientOptions = Pick<SinkOptions, 'connectTimeoutMs' | 'headersTimeoutMs' | 'bodyTimeoutMs' | 'keepAliveTimeoutMs' | 'postDeadlineMs'>;

/** undici's own default: an answer longer than this is not read but its connection closed. */
const DUMP_LIMIT_BYTES = 128 * 1024;

/** The reason an attempt aborted by its caller (shutdown) fails with; never retried. */
const ABORTED = new PostError('LOGPLEX_ABORTED', 'request aborted', { transient: false });

/**
 * What the sink needs of an HTTP client: LogplexClient, or a stand-in answering on a virtual
 * clock (the sink's marble test). PromiseLike, so such a stand-in can settle in virtual time.
 */
export interface PostTransport {
  /** One attempt: resolves on 2xx, rejects with a PostError otherwise; `signal` aborts it. */
  send(post: PreparedPost, signal: AbortSignal): PromiseLike<PostResult>;
  /** Graceful: requests in flight finish, then connections close. */
  close(): PromiseLike<void>;
  /** Abrupt: requests in flight fail, connections drop now. */
  destroy(): PromiseLike<void>;
}

/** The sink's HTTP side: a Pool per origin, created on first use, closed with the sink. */
export class LogplexClient implements PostTransport {
  readonly #pools = new Map<string, Pool>();
  readonly #options: ClientOptions;
  readonly #scheduler: SchedulerLike; // the post deadline, and "now" for Retry-After dates
  #closed = false;

  constructor(options: ClientOptions, scheduler: SchedulerLike = asyncScheduler) {
    this.#options = options;
    this.#scheduler = scheduler;
  }

  #pool(origin: string): Pool {
    let pool = this.#pools.get(origin);
    if (pool === undefined) {
      const { Pool } = undiciPool();
      pool = new Pool(origin, {
        connect: { timeout: this.#options.connectTimeoutMs },
        headersTimeout: this.#options.headersTimeoutMs,
        bodyTimeout: this.#options.bodyTimeoutMs,
        keepAliveTimeout: this.#options.keepAliveTimeoutMs,
      });
      this.#pools.set(origin, pool);
    }
    return pool;
  }

  /**
   * One attempt. Resolves on 2xx; rejects with a PostError otherwise. `signal` aborts it (shutdown);
   * postDeadlineMs after the start it is failed as a timeout, whatever stage it is in.
   */
  async send(post: PreparedPost, signal?: AbortSignal): Promise<PostResult> {
    if (this.#closed) throw new PostError('LOGPLEX_ABORTED', 'sink closed', { transient: false });
    // One controller for both ends of the attempt: the caller's abort and our deadline. Aborting
    // with a reason of our own: undici rejects with it, and no DOMException (with its stack
    // trace) is built. Nothing is aborted on the usual path, where the timer is just cleared.
    const control = new AbortController();
    const onAbort = (): void => control.abort(ABORTED);
    signal?.addEventListener('abort', onAbort, { once: true });
    const deadline = this.#scheduler.schedule(() => control.abort(this.#deadlineError()), this.#options.postDeadlineMs);
    let statusCode: number;
    let retryAfter: string | string[] | undefined;
    try {
      if (signal?.aborted === true) throw ABORTED;
      const response = await this.#pool(post.origin).request({
        path: post.path,
        method: 'POST',
        headers: post.headers,
        body: post.body,
        signal: control.signal,
      });
      statusCode = response.statusCode;
      retryAfter = response.headers['retry-after'];
      // Read to the end whatever the status: an unread body pins the connection and defeats
      // keep-alive. Without the signal, dump() would resolve quietly when the deadline destroys
      // the body, and a trickled answer would count as delivered.
      await response.body.dump({ limit: DUMP_LIMIT_BYTES, signal: control.signal });
    } catch (err) {
      throw classifyRequestError(err, signal?.aborted === true);
    } finally {
      deadline.unsubscribe();
      signal?.removeEventListener('abort', onAbort);
    }
    if (statusCode < 200 || statusCode >= 300) {
      throw new PostError('LOGPLEX_HTTP_STATUS', `logplex answered ${statusCode}`, {
        status: statusCode,
        transient: isTransientStatus(statusCode),
        retryAfterMs: parseRetryAfter(retryAfter, this.#scheduler.now()),
      });
    }
    return { status: statusCode, bytes: post.body.length };
  }

  #deadlineError(): PostError {
    return new PostError('LOGPLEX_TIMEOUT', `logplex did not finish answering within ${this.#options.postDeadlineMs} ms`, {
      transient: true,
      causeCode: 'POST_DEADLINE',
    });
  }

  /** Graceful: lets requests in flight finish, then closes every connection. */
  async close(): Promise<void> {
    this.#closed = true;
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((p) => p.close()));
  }

  /** Abrupt: fails requests in flight and drops every connection now. */
  async destroy(): Promise<void> {
    this.#closed = true;
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((p) => p.destroy()));
  }
}
