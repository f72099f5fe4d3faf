// Post latency, measured without touching the sink: undici publishes every request's life on
// node:diagnostics_channel (`undici:request:create`, `undici:request:headers`), which is how
// undici means metrics to be taken. We time from the request's creation (so waiting for a pooled
// connection counts, as it does for the batch) to logplex's response headers (its answer: logplex
// replies with an empty body). Only requests that look like ours are timed: POSTs carrying a
// Logplex-Frame-Id to an origin some serve in force posts to. The Authorization header is never
// read. Per post, not per record; and nothing at all is published while nobody is subscribed.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';

/** The part of undici's Request we read (lib/core/request.js): headers is a flat [name, value, ...] list. */
interface UndiciRequest {
  readonly origin?: unknown;
  readonly method?: unknown;
  readonly headers?: unknown;
}

const CREATE = 'undici:request:create';
const HEADERS = 'undici:request:headers';
const ERROR = 'undici:request:error';

function isLogplexPost(request: UndiciRequest): boolean {
  if (request.method !== 'POST' || !Array.isArray(request.headers)) return false;
  const headers: readonly unknown[] = request.headers;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i];
    if (typeof name === 'string' && name.toLowerCase() === 'logplex-frame-id') return true;
  }
  return false;
}

/**
 * Calls `observe(seconds)` for each logplex POST that got an answer, while subscribed.
 * `ours(origin)` says whether an origin is one of this collector's. Returns the unsubscribe.
 */
export function observePostLatency(ours: (origin: string) => boolean, observe: (seconds: number) => void): () => void {
  const started = new WeakMap<object, bigint>(); // dropped with the request object, answered or not
  const onCreate = (message: unknown): void => {
    const request = (message as { request?: UndiciRequest }).request;
    if (request === undefined || typeof request.origin !== 'string' || !ours(request.origin) || !isLogplexPost(request)) return;
    started.set(request, process.hrtime.bigint());
  };
  const onHeaders = (message: unknown): void => {
    const request = (message as { request?: object }).request;
    const at = request === undefined ? undefined : started.get(request);
    if (request === undefined || at === undefined) return;
    started.delete(request);
    observe(Number(process.hrtime.bigint() - at) / 1e9);
  };
  const onError = (message: unknown): void => {
    const request = (message as { request?: object }).request;
    if (request !== undefined) started.delete(request); // no answer: counted in posts_total by its cause, not timed
  };
  subscribe(CREATE, onCreate);
  subscribe(HEADERS, onHeaders);
  subscribe(ERROR, onError);
  return () => {
    unsubscribe(CREATE, onCreate);
    unsubscribe(HEADERS, onHeaders);
    unsubscribe(ERROR, onError);
  };
}
