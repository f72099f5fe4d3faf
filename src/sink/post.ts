// One batch to one POST (logplex-input.md), with undici: one Pool per logplex origin, reused
// with keep-alive by every serve posting there, every stage of a request bounded by a timeout.
// A body is prepared once (headers, gzip) and sent as often as the retry policy says, so a
// retried body is byte-identical and carries the same Logplex-Frame-Id.
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { Pool } from './undiciPool'; // not 'undici': see undiciPool.ts (memory)
import type { Serve } from '../servedb/serve';
import { isTransientStatus, PostError } from './errors';
import type { SinkOptions } from './options';

const gzipAsync = promisify(gzip); // off the event loop: a 1 MiB body takes milliseconds to deflate

/**
 * `body` gzipped at the fastest level, off the event loop: how a batch waits while logplex is
 * failing (lane.ts). Log lines deflate several times over even at level 1, and a waiting
 * body is not on the hot path, so speed matters less than taking a few milliseconds per megabyte.
 */
export function gzipFast(body: Buffer): Promise<Buffer> {
  return gzipAsync(body, { level: 1 });
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
  return randomUUID().replace(/-/g, '').toUpperCase();
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
  const url = new URL(batch.serve.target.url);
  const gzipped = batch.gzipped === true || options.gzip;
  const body = gzipped && batch.gzipped !== true ? await gzipAsync(batch.body) : batch.body;
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

function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}

/** Any failure of undici or the network as a PostError; unknown causes count as connection trouble. */
export function classifyRequestError(err: unknown, aborted: boolean): PostError {
  if (err instanceof PostError) return err;
  const causeCode = errorCode(err) ?? errorCode(err instanceof Error ? err.cause : undefined);
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

/** The sink's HTTP side: a Pool per origin, created on first use, closed with the sink. */
export class LogplexClient {
  readonly #pools = new Map<string, Pool>();
  readonly #options: Pick<SinkOptions, 'connectTimeoutMs' | 'headersTimeoutMs' | 'bodyTimeoutMs' | 'keepAliveTimeoutMs'>;
  #closed = false;

  constructor(options: Pick<SinkOptions, 'connectTimeoutMs' | 'headersTimeoutMs' | 'bodyTimeoutMs' | 'keepAliveTimeoutMs'>) {
    this.#options = options;
  }

  #pool(origin: string): Pool {
    let pool = this.#pools.get(origin);
    if (pool === undefined) {
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

  /** One attempt. Resolves on 2xx; rejects with a PostError otherwise. */
  async send(post: PreparedPost, signal?: AbortSignal): Promise<PostResult> {
    if (this.#closed) throw new PostError('LOGPLEX_ABORTED', 'sink closed', { transient: false });
    let statusCode: number;
    let retryAfter: string | string[] | undefined;
    try {
      const response = await this.#pool(post.origin).request({
        path: post.path,
        method: 'POST',
        headers: post.headers,
        body: post.body,
        signal: signal ?? null,
      });
      statusCode = response.statusCode;
      retryAfter = response.headers['retry-after'];
      // Read to the end whatever the status: an unread body pins the connection and defeats keep-alive.
      await response.body.dump();
    } catch (err) {
      throw classifyRequestError(err, signal?.aborted === true);
    }
    if (statusCode < 200 || statusCode >= 300) {
      throw new PostError('LOGPLEX_HTTP_STATUS', `logplex answered ${statusCode}`, {
        status: statusCode,
        transient: isTransientStatus(statusCode),
        retryAfterMs: parseRetryAfter(retryAfter, Date.now()),
      });
    }
    return { status: statusCode, bytes: post.body.length };
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
