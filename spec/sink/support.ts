// Test support for the sink: a real logplex-like HTTP server on 127.0.0.1, a stub formatter
// (one frame per line, so counts in tests are obvious; the real one is covered in its own spec),
// and builders.
import { aRecord } from '../support/records';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { Secret } from '../../src/secret';
import type { Serve } from '../../src/servedb/serve';
import type { SinkFormatter } from '../../src/sink';
import type { SourcedRecord } from '../../src/source/sourcedRecord';

export interface Received {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly raw: Buffer; // body as sent
  readonly body: Buffer; // inflated when gzipped
  readonly frames: string[]; // syslog messages, length prefixes removed
}

/** Decide the answer to a request: a status (with headers), 'hang' to never answer, or a status to answer once `later` resolves. */
export type Responder = (
  req: Received,
  index: number,
) => number | { status: number; headers: Record<string, string> } | 'hang' | { later: Promise<number> };

export interface TestServer {
  readonly port: number;
  readonly url: string; // http://127.0.0.1:<port>/logs
  readonly received: Received[];
  readonly arrivedAt: number[]; // performance.now() of each request's end, by index
  openConnections(): number; // TCP connections from clients not yet closed
  close(): Promise<void>;
}

/** Octet-counted frames, parsed independently of the code under test. */
export function parseFrames(body: Buffer): string[] {
  const frames: string[] = [];
  let at = 0;
  while (at < body.length) {
    const space = body.indexOf(0x20, at);
    if (space < 0) throw new Error(`no length prefix at byte ${at}`);
    const lenText = body.subarray(at, space).toString('latin1');
    if (!/^[1-9][0-9]*$/.test(lenText)) throw new Error(`bad length prefix ${JSON.stringify(lenText)} at byte ${at}`);
    const len = Number(lenText);
    const end = space + 1 + len;
    if (end > body.length) throw new Error(`frame at byte ${at} runs past the body`);
    frames.push(body.subarray(space + 1, end).toString('utf8'));
    at = end;
  }
  return frames;
}

export function startServer(respond: Responder = () => 204, port = 0): Promise<TestServer> {
  const received: Received[] = [];
  const arrivedAt: number[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
      const rec: Received = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        raw,
        body,
        frames: parseFrames(body),
      };
      const index = received.length;
      received.push(rec);
      arrivedAt.push(performance.now());
      const answer = respond(rec, index);
      if (answer === 'hang') return;
      if (typeof answer === 'object' && 'later' in answer) {
        void answer.later.then((status) => {
          if (!res.destroyed) res.writeHead(status).end();
        });
        return;
      }
      const { status, headers } = typeof answer === 'number' ? { status: answer, headers: {} } : answer;
      res.writeHead(status, { 'content-type': 'text/plain', ...headers });
      res.end(status >= 300 ? 'nope\n' : undefined);
    });
  });
  let open = 0;
  server.on('connection', (socket) => {
    open += 1;
    socket.once('close', () => (open -= 1));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const actual = (server.address() as AddressInfo).port;
      resolve({
        port: actual,
        url: `http://127.0.0.1:${actual}/logs`,
        received,
        arrivedAt,
        openConnections: () => open,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

/** A port nothing listens on (for now). */
export async function deadPort(): Promise<number> {
  const s = await startServer();
  await s.close();
  return s.port;
}

export function makeServe(
  url: string,
  fields: { token?: string; user?: string; socketPath?: string; name?: string } = {},
): Serve {
  return {
    identity: 'test',
    socketPath: fields.socketPath ?? '/run/test/a.sock',
    name: fields.name ?? 'BLUE',
    target: { url, user: fields.user ?? 'token', token: new Secret(fields.token ?? 't.secret-token-abc') },
  };
}


/** A record whose single line is `text` (the stub formatter renders ErrMessage only). */
export function makeRecord(serve: Serve, text: string, seq = 1): SourcedRecord {
  return {
    serve,
    message: { type: 'L', record: aRecord({ SeqNum: seq, ErrMessage: text }), severity: { name: 'LOG', label: 'LOG' } },
    receivedAt: Date.parse('2026-11-25T01:43:51.596Z'),
  };
}

function octetCounted(message: string): Buffer {
  const bytes = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${bytes.length} `, 'latin1'), bytes]);
}

/** The stub's frames for a record: one per line of ErrMessage, token as APP-NAME like the real one. */
export function stubFrames(rec: SourcedRecord): { bytes: Buffer; frames: number } {
  const frames = (rec.message.record.ErrMessage ?? '')
    .split('\n')
    .map((line) =>
      octetCounted(
        `<134>1 2026-11-25T01:43:51.596000+00:00 postgres ${rec.serve.target.token.reveal()} postgres.${rec.message.record.Pid} - - ${line}`,
      ),
    );
  return { bytes: Buffer.concat(frames), frames: frames.length };
}

let stubFramesWritten = 0;

/** Stand-in for src/format: stubFrames, written where the sink asks as the real writer does. */
export const stubFormatter: SinkFormatter = {
  write: (serve, message, receivedAt, target, at, end) => {
    const { bytes, frames } = stubFrames({ serve, message, receivedAt });
    stubFramesWritten = frames;
    if (bytes.length > end - at) return -bytes.length;
    return bytes.copy(target, at);
  },
  frames: () => stubFramesWritten,
  notice: (serve, message) =>
    octetCounted(`<132>1 2026-11-25T01:43:51.596000+00:00 postgres ${serve.target.token.reveal()} collector - - ${message}`),
  l10Text: (kind, count, since) =>
    `Error L10 (output buffer overflow): ${count} messages ${kind} since ${since.toISOString().slice(0, 19)}+00:00.`,
};

/** The MSG part of a stub frame. */
export function msgOf(frame: string): string {
  return frame.split(' ').slice(7).join(' ');
}

export async function waitFor(condition: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Short timings so that every test runs in well under a second or two. */
export const FAST = {
  flushIntervalMs: 20,
  retry: { baseDelayMs: 10, maxDelayMs: 40, maxAttempts: 50, maxAgeMs: 10_000, jitter: 0 },
  headersTimeoutMs: 2000,
  bodyTimeoutMs: 2000,
  connectTimeoutMs: 2000,
} as const;
