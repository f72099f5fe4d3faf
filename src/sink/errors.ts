// What can go wrong delivering a batch, as typed errors with stable codes (undici's style):
// events and tests match on `code`, and `transient` is the single answer to "retry or not?".
// Messages never contain credentials: the URL we hold has none and tokens are never formatted.

import { CollectorError } from '../errors';

export type PostErrorCode =
  | 'LOGPLEX_HTTP_STATUS' // logplex answered with a non-2xx status
  | 'LOGPLEX_TIMEOUT' // connect, headers or body timeout
  | 'LOGPLEX_CONNECTION' // refused, reset, DNS, TLS: the request may not have arrived
  | 'LOGPLEX_ABORTED' // we aborted it (shutdown)
  | 'LOGPLEX_REQUEST_INVALID'; // undici refused the request itself: a bug here, retrying cannot help

export class PostError extends CollectorError {
  override readonly name = 'PostError';
  readonly code: PostErrorCode;
  readonly status: number | undefined; // HTTP status for LOGPLEX_HTTP_STATUS
  readonly transient: boolean; // worth retrying the same body later
  readonly causeCode: string | undefined; // the underlying undici/system code, e.g. ECONNREFUSED
  readonly retryAfterMs: number | undefined; // how long logplex asked us to wait (Retry-After), if it did

  constructor(
    code: PostErrorCode,
    message: string,
    fields: { status?: number; transient: boolean; causeCode?: string; retryAfterMs?: number },
  ) {
    super(message);
    this.code = code;
    this.status = fields.status;
    this.transient = fields.transient;
    this.causeCode = fields.causeCode;
    this.retryAfterMs = fields.retryAfterMs;
  }
}

/**
 * Per the logplex input spec: 429 and 5xx are load or outage, retry; every other status is about
 * this request (400 framing, 401/403 credentials, 413/415 shape) and would fail again. 408 is the
 * server timing out our upload, which is the same as our own timeout: retry.
 */
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

export type GiveUpReason = 'permanent' | 'max_attempts' | 'max_age';

/** The end of a retry run: the last error and why no further attempt was made. */
export class RetryGiveUpError extends CollectorError {
  override readonly name = 'RetryGiveUpError';
  readonly code = 'RETRY_GAVE_UP';
  constructor(
    readonly reason: GiveUpReason,
    readonly attempts: number, // tries made, the first included
    readonly lastError: unknown,
  ) {
    super(`gave up after ${attempts} attempt(s) (${reason}): ${lastError instanceof Error ? lastError.message : String(lastError)}`);
  }
}

/**
 * Statuses by which a tenant's logplex refuses its lines for a reason of the tenant's own (a
 * revoked token 401, a forbidden or deleted app 403/404, an app that refuses the input 422):
 * counted as `refused`, and no failure of the collector's.
 */
const TENANT_REFUSALS = new Set([401, 403, 404, 422]);

/** True when `err` (what a post ended with) is logplex refusing the tenant's lines: see TENANT_REFUSALS. */
export function refusedByTenant(err: unknown): boolean {
  const last = err instanceof RetryGiveUpError ? err.lastError : err;
  return last instanceof PostError && last.status !== undefined && TENANT_REFUSALS.has(last.status);
}
