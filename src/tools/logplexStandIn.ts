// A logplex stand-in (docs/logplex-input.md): an HTTP server that checks requests the
// way logplex does, records what it accepted, and misbehaves on cue so the sink's retry and drop
// policies can be watched against a server that is slow, failing, hanging or gone. The demo, the
// tests and the benchmarks all point the collector at it.
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Writable } from 'node:stream';
import { gunzip } from 'node:zlib';
import { Subject, type Observable } from '../rx';
import { LogplexBodyError, countLogplexFrames, parseLogplexBody, type LogplexFrame } from './logplexBody';

export interface LogplexStandInOptions {
  readonly port: number; // 0 picks a free one; `up` after `down` reopens the same one
  readonly host: string; // loopback: this is a test double, not a service
  readonly path: string; // shown in `url`; any path is accepted, as logplex does
  readonly tokens: readonly string[] | undefined; // allow-list of tokens; undefined accepts any
  readonly print: Writable | undefined; // where to write each frame as `heroku logs` shows it
  readonly sourceName: string; // what logplex shows for the token (the token's name), `app`
  readonly maxBodyBytes: number; // larger bodies get 413, like a real front end would
  readonly random: () => number; // for `fail` with a probability; tests pass a fixed sequence
  // Called with each accepted body (inflated) before the 204 goes out; cheaper than received$ when
  // a benchmark only needs to scan bytes (markers) at 100k+ frames/s, since no frame objects are built.
  readonly onBody: ((accepted: AcceptedBody) => void) | undefined;
}

/** What onBody sees of one accepted request. */
export interface AcceptedBody {
  readonly token: string;
  readonly frameId: string | undefined;
  readonly body: Buffer; // inflated application/logplex-1 body, already validated
  readonly frameCount: number;
}

/** Defaults for every option, in one place. */
export const DEFAULT_STAND_IN_OPTIONS: LogplexStandInOptions = {
  port: 0,
  host: '127.0.0.1',
  path: '/logs',
  tokens: undefined,
  print: undefined,
  sourceName: 'app', // Heroku's default name for an app's own log token
  maxBodyBytes: 16 * 1024 * 1024, // far above any batch a sane client builds
  random: Math.random,
  onBody: undefined,
};

export type StandInMode =
  | { readonly kind: 'ok' }
  | { readonly kind: 'slow'; readonly delayMs: number } // answer normally, after delayMs
  | { readonly kind: 'fail'; readonly status: number; readonly probability?: number } // default probability 1
  | { readonly kind: 'hang' } // read the request, never answer (until close or `down`)
  | { readonly kind: 'down' } // stop listening and drop open connections: clients see refused/reset
  | { readonly kind: 'up' }; // listen again on the same port, then behave as `ok`

/** One accepted request. */
export interface ReceivedBatch {
  readonly token: string; // basic-auth password: logplex's `token:t.…` convention
  readonly user: string; // basic-auth user, normally `token`
  readonly frameId: string | undefined; // Logplex-Frame-Id: equal across retries of one body
  readonly frames: readonly LogplexFrame[];
  readonly headers: IncomingHttpHeaders;
  readonly bodyBytes: number; // on the wire, before inflating
}

export interface StandInStats {
  readonly requests: number; // every request that reached the server, whatever the outcome
  readonly accepted: number; // answered 204
  readonly frames: number; // frames in accepted requests
  readonly bodyBytes: number; // wire bytes of accepted requests
  readonly statuses: Readonly<Record<number, number>>; // answers by status code
  readonly framesByToken: Readonly<Record<string, number>>; // accepted frames per token
  readonly frameIds: number; // distinct Logplex-Frame-Ids accepted (retries that landed twice count once)
  readonly hanging: number; // requests held open right now by `hang`
}

export interface LogplexStandIn {
  readonly url: string; // e.g. http://127.0.0.1:PORT/logs, without credentials
  readonly port: number;
  readonly received$: Observable<ReceivedBatch>; // hot; completes on close()
  stats(): StandInStats;
  setMode(mode: StandInMode): Promise<void>; // resolves once `down`/`up` took effect
  mode(): StandInMode;
  close(): Promise<void>;
}

/** How logplex would answer, and why: the reason goes in the body for whoever debugs a client. */
class Refusal {
  constructor(
    readonly status: number,
    readonly reason: string,
  ) {}
}

interface Credentials {
  readonly user: string;
  readonly token: string;
}

function basicAuth(header: string | undefined): Credentials | Refusal {
  if (header === undefined) return new Refusal(401, 'missing Authorization');
  const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header);
  if (m === null) return new Refusal(401, 'Authorization is not Basic');
  const decoded = Buffer.from(m[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return new Refusal(401, 'Basic credentials without a colon');
  return { user: decoded.slice(0, colon), token: decoded.slice(colon + 1) };
}

/** Reads a Content-Length body into one buffer; refuses anything else before reading. */
function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | Refusal> {
  // Logplex needs the length up front; a chunked body is refused, as logplex does.
  if (req.headers['transfer-encoding'] !== undefined) {
    return Promise.resolve(new Refusal(400, 'chunked bodies are not accepted: send Content-Length'));
  }
  const lengthHeader = req.headers['content-length'];
  if (lengthHeader === undefined) return Promise.resolve(new Refusal(400, 'Content-Length required'));
  const length = Number(lengthHeader);
  if (!Number.isSafeInteger(length) || length < 0) return Promise.resolve(new Refusal(400, 'bad Content-Length'));
  if (length > maxBytes) return Promise.resolve(new Refusal(413, `body over ${maxBytes} bytes`));
  return new Promise((resolve, reject) => {
    const body = Buffer.allocUnsafe(length);
    let filled = 0;
    req.on('data', (chunk: Buffer) => {
      // node:http enforces Content-Length, so chunks never run past it.
      chunk.copy(body, filled);
      filled += chunk.length;
    });
    req.on('end', () => resolve(filled === length ? body : new Refusal(400, 'body shorter than Content-Length')));
    req.on('error', reject);
  });
}

function inflate(body: Buffer, encoding: string | undefined): Promise<Buffer | Refusal> {
  if (encoding === undefined || encoding === 'identity') return Promise.resolve(body);
  if (encoding !== 'gzip') return Promise.resolve(new Refusal(415, `Content-Encoding ${encoding} not supported`));
  return new Promise((resolve) => {
    gunzip(body, (err, out) => resolve(err === null ? out : new Refusal(400, `bad gzip: ${err.message}`)));
  });
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** `2026-11-25T01:43:51.596000+00:00 app[postgres.4517]: <msg>`, as `heroku logs` prints a frame. */
export function herokuLogsLine(frame: LogplexFrame, sourceName: string): string {
  return `${frame.timestamp} ${sourceName}[${frame.procId}]: ${frame.msg}`;
}

export async function startLogplexStandIn(options: Partial<LogplexStandInOptions> = {}): Promise<LogplexStandIn> {
  const opts: LogplexStandInOptions = { ...DEFAULT_STAND_IN_OPTIONS, ...options };
  const allowed = opts.tokens === undefined ? undefined : new Set(opts.tokens);
  const received = new Subject<ReceivedBatch>();
  const hanging = new Set<ServerResponse>();
  const frameIds = new Set<string>();
  const counters = {
    requests: 0,
    accepted: 0,
    frames: 0,
    bodyBytes: 0,
    statuses: {} as Record<number, number>,
    framesByToken: {} as Record<string, number>,
  };
  let mode: StandInMode = { kind: 'ok' };
  let listening = false;
  let port = opts.port;

  function answer(res: ServerResponse, status: number, reason?: string): void {
    counters.statuses[status] = (counters.statuses[status] ?? 0) + 1;
    if (res.destroyed) return;
    if (reason === undefined) res.writeHead(status).end();
    else res.writeHead(status, { 'content-type': 'text/plain' }).end(`${reason}\n`);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    counters.requests++;
    const modeAtArrival = mode; // a request is judged by the mode it arrived in
    if (req.method !== 'POST') return answer(res, 405, 'POST only');
    const creds = basicAuth(req.headers.authorization);
    if (creds instanceof Refusal) return answer(res, creds.status, creds.reason);
    if (allowed !== undefined && !allowed.has(creds.token)) return answer(res, 401, 'unknown token');
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (contentType !== 'application/logplex-1') return answer(res, 415, 'Content-Type must be application/logplex-1');
    const wire = await readBody(req, opts.maxBodyBytes);
    if (wire instanceof Refusal) {
      // Unread bytes of a refused body would be parsed as the next request: close the connection.
      res.shouldKeepAlive = false;
      return answer(res, wire.status, wire.reason);
    }

    if (modeAtArrival.kind === 'hang') {
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
      return;
    }
    if (modeAtArrival.kind === 'fail' && opts.random() < (modeAtArrival.probability ?? 1)) {
      return answer(res, modeAtArrival.status, 'failing on cue');
    }
    if (modeAtArrival.kind === 'slow') await delay(modeAtArrival.delayMs);

    const body = await inflate(wire, req.headers['content-encoding']);
    if (body instanceof Refusal) return answer(res, body.status, body.reason);
    const countHeader = req.headers['logplex-msg-count'];
    if (typeof countHeader !== 'string') return answer(res, 400, 'one Logplex-Msg-Count required');

    // Build frames only when someone looks at them: benchmarks push 100k+ frames/s through here.
    const wantFrames = opts.print !== undefined || received.observed;
    let frames: LogplexFrame[] = [];
    let frameCount: number;
    try {
      if (wantFrames) {
        frames = parseLogplexBody(body);
        frameCount = frames.length;
      } else frameCount = countLogplexFrames(body);
    } catch (e) {
      if (e instanceof LogplexBodyError) return answer(res, 400, e.message);
      throw e;
    }
    if (String(frameCount) !== countHeader.trim()) {
      return answer(res, 400, `Logplex-Msg-Count ${countHeader} but ${frameCount} frames`);
    }

    counters.accepted++;
    counters.frames += frameCount;
    counters.bodyBytes += wire.length;
    counters.framesByToken[creds.token] = (counters.framesByToken[creds.token] ?? 0) + frameCount;
    const frameIdHeader = req.headers['logplex-frame-id'];
    const frameId = typeof frameIdHeader === 'string' ? frameIdHeader : undefined;
    if (frameId !== undefined) frameIds.add(frameId);
    opts.onBody?.({ token: creds.token, frameId, body, frameCount });
    answer(res, 204);

    if (opts.print !== undefined && frames.length > 0) {
      let out = '';
      for (const f of frames) out += `${herokuLogsLine(f, opts.sourceName)}\n`;
      opts.print.write(out);
    }
    if (received.observed) {
      received.next({ token: creds.token, user: creds.user, frameId, frames, headers: req.headers, bodyBytes: wire.length });
    }
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => answer(res, 500, e instanceof Error ? e.message : String(e)));
  });

  function listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, opts.host, () => {
        server.off('error', reject);
        port = (server.address() as AddressInfo).port;
        listening = true;
        resolve();
      });
    });
  }

  function stopListening(): Promise<void> {
    if (!listening) return Promise.resolve();
    listening = false;
    return new Promise((resolve) => {
      server.close(() => resolve());
      // A server that went away resets its open connections too, hung requests included.
      server.closeAllConnections();
    });
  }

  await listen();

  // `down`/`up` must not interleave, so mode changes run one after another.
  let transitions: Promise<void> = Promise.resolve();
  let closed = false;

  return {
    get url() {
      return `http://${opts.host}:${port}${opts.path}`;
    },
    get port() {
      return port;
    },
    received$: received.asObservable(),
    stats: () => ({
      ...counters,
      statuses: { ...counters.statuses },
      framesByToken: { ...counters.framesByToken },
      frameIds: frameIds.size,
      hanging: hanging.size,
    }),
    mode: () => mode,
    setMode(next: StandInMode): Promise<void> {
      transitions = transitions.then(async () => {
        if (closed) return;
        if (next.kind === 'down') {
          mode = next;
          await stopListening();
          return;
        }
        // Any other mode means the server is there: reopen on the same port if it was down.
        if (!listening) await listen();
        mode = next.kind === 'up' ? { kind: 'ok' } : next;
      });
      return transitions;
    },
    async close(): Promise<void> {
      await transitions;
      if (closed) return;
      closed = true;
      await stopListening();
      received.complete();
    },
  };
}
