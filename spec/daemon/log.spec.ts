// Our own log's bounds, stage by stage: what one line may hold (truncation, escaping), how a
// storm of the same complaint is folded (repeats), and what a slow stderr may cost (the
// bounded queue, on a real unix socket nobody reads). The daemon as a whole is in hostile.spec.ts.
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { FlatEvent } from '../../src/events';
import { formatJson, formatLogfmt, truncate } from '../../src/daemon/log';
import { VirtualTimeScheduler } from 'rxjs';
import { createRepeatFilter } from '../../src/daemon/logRepeats';
import { createLogWriter } from '../../src/daemon/logWriter';
import { parseLogfmt } from '../support/daemonProcess';

const at = new Date('2026-11-25T01:02:03.004Z');
const HOSTILE = 'x\x1b[2J\x07\x7f\x9b\u202e\u2028\r\ny';
const flat = (e: FlatEvent): FlatEvent => e;

describe('a log line: peer strings cut and escaped', () => {
  const identity = 'i'.repeat(1 << 20);
  const mismatch: FlatEvent = {
    kind: 'identity_mismatch',
    level: 'warn',
    socket: '/run/a.sock',
    got: identity,
    expected: 'db1',
    reason: `got identity ${JSON.stringify(identity)}, socket expects "db1"`,
  };

  it('cuts each value to 200 characters and says how long it was', () => {
    for (const line of [formatLogfmt(mismatch, at), formatJson(mismatch, at)]) {
      expect(line.length).toBeLessThan(700); // was 2,097,300: the identity raw, then again escaped
      expect(line).toContain(`${'i'.repeat(200)}…(1048576 chars)`);
      expect(line).toContain('…(1048613 chars)'); // the reason, which quotes it
    }
    expect(parseLogfmt(formatLogfmt(mismatch, at)).got).toBe(`${'i'.repeat(200)}…(1048576 chars)`);
    expect((JSON.parse(formatJson(mismatch, at)) as { got: string }).got).toBe(`${'i'.repeat(200)}…(1048576 chars)`);
  });

  it('never cuts a surrogate pair in two', () => {
    const s = `${'a'.repeat(199)}😀tail`;
    expect(truncate(s, 200)).toBe(`${'a'.repeat(199)}…(205 chars)`);
    expect(truncate('short', 200)).toBe('short');
  });

  it('escapes control and invisible characters in logfmt', () => {
    const line = formatLogfmt({ kind: 'connect', level: 'info', identity: HOSTILE, server_version: 'a\x1bb' }, at);
    // eslint-disable-next-line no-control-regex
    expect(line).not.toMatch(/[\x00-\x1f\x7f-\x9f\u202e\u2028]/);
    expect(line).toContain('identity="x\\u001b[2J\\u0007\\u007f\\u009b\\u202e\\u2028\\r\\ny"');
    expect(line).toContain('server_version="a\\u001bb"'); // never bare, though it has no space
    expect(parseLogfmt(line).identity).toBe(HOSTILE); // escaped, not lost
  });

  it('escapes them in JSON too, and stays valid JSON', () => {
    const line = formatJson({ kind: 'connect', level: 'info', identity: HOSTILE }, at);
    // eslint-disable-next-line no-control-regex
    expect(line).not.toMatch(/[\x00-\x1f\x7f-\x9f\u202e\u2028]/);
    expect(JSON.parse(line)).toEqual({ ts: at.toISOString(), level: 'info', event: 'connect', identity: HOSTILE });
  });

  it('leaves ordinary values bare, accents included', () => {
    expect(formatLogfmt({ kind: 'connect', level: 'info', serve: 'BLÜE', socket: '/run/a.sock', n: 3 }, at)).toBe(
      'ts=2026-11-25T01:02:03.004Z level=info event=connect serve=BLÜE socket=/run/a.sock n=3',
    );
  });
});

/** Virtual time the test moves by hand. */
function manualClock(): VirtualTimeScheduler & { advance(ms: number): void } {
  const vt = new VirtualTimeScheduler();
  return Object.assign(vt, {
    advance(ms: number): void {
      vt.maxFrames = vt.now() + ms;
      vt.flush();
      vt.frame = vt.maxFrames; // flush stops at the last action run: the clock goes on to the target
    },
  });
}

describe('repeats: one line per serve and reason per window', () => {
  const mismatch = (socket: string, n: number): FlatEvent => ({ kind: 'identity_mismatch', level: 'warn', socket, got: `bad-${n}` });
  const protocolError = (socket: string, code: string): FlatEvent => ({ kind: 'protocol_error', level: 'warn', socket, code });
  const setup = (maxRepeatKeys = 100) => {
    const clock = manualClock();
    const printed: FlatEvent[] = [];
    const filter = createRepeatFilter((e) => printed.push(e as FlatEvent), { repeatWindowMs: 10_000, maxRepeatKeys }, clock);
    return { clock, printed, filter };
  };

  it('prints the first at once, counts the rest, and prints one line for them when the window ends', () => {
    const { clock, printed, filter } = setup();
    for (let n = 1; n <= 100; n++) {
      filter.accept(mismatch('/a', n));
      clock.advance(50);
    }
    expect(printed).toEqual([mismatch('/a', 1)]);
    clock.advance(5_000); // 10 s after the first
    expect(printed).toEqual([
      mismatch('/a', 1),
      { ...mismatch('/a', 100), repeated: 99, since: new Date(50).toISOString() },
    ]);
    // A storm that goes on prints one line per window; a quiet window forgets the serve.
    filter.accept(mismatch('/a', 101));
    clock.advance(10_000);
    expect(printed).toHaveLength(3);
    expect(printed[2]).toMatchObject({ got: 'bad-101', repeated: 1 });
    clock.advance(10_000);
    filter.accept(mismatch('/a', 102));
    expect(printed[3]).toEqual(mismatch('/a', 102)); // printed at once again
  });

  it('keeps serves, kinds and protocol error codes apart; lets other events through', () => {
    const { clock, printed, filter } = setup();
    const connect: FlatEvent = { kind: 'connect', level: 'info', socket: '/a' };
    for (let i = 0; i < 3; i++) {
      filter.accept(mismatch('/a', i));
      filter.accept(mismatch('/b', i));
      filter.accept(protocolError('/a', 'LOGFEBE_BAD_VERSION'));
      filter.accept(protocolError('/a', 'LOGFEBE_TOO_LARGE'));
      filter.accept(flat({ kind: 'disconnect', level: 'debug', socket: '/a', reason: 'closed before identifying' }));
      filter.accept(connect);
    }
    expect(printed.filter((e) => e.kind === 'connect')).toHaveLength(3);
    expect(printed.filter((e) => e.kind !== 'connect')).toHaveLength(5);
    clock.advance(10_000);
    expect(printed.filter((e) => e.repeated === 2)).toHaveLength(5);
  });

  it('past maxRepeatKeys, counts new serves on one line per kind', () => {
    const { clock, printed, filter } = setup(2);
    for (let s = 0; s < 50; s++) filter.accept(mismatch(`/s${s}`, s));
    expect(printed.map((e) => e.socket)).toEqual(['/s0', '/s1', '/s2']);
    clock.advance(10_000);
    expect(printed[3]).toMatchObject({ socket: '/s49', repeated: 47 });
  });

  it('flush() prints every open count (at shutdown)', () => {
    const { printed, filter } = setup();
    filter.accept(mismatch('/a', 1));
    filter.accept(mismatch('/a', 2));
    filter.flush();
    expect(printed).toEqual([mismatch('/a', 1), { ...mismatch('/a', 2), repeated: 1, since: new Date(0).toISOString() }]);
  });
});

describe('the log writer: a stderr that backs up costs a bounded queue, and the drops are said', () => {
  let dir: string;
  let server: Server;
  let reader: Socket;
  let writerEnd: Socket;

  beforeEach(async () => {
    // A real unix socket whose far end does not read: what stderr is when its pipe is not drained.
    dir = mkdtempSync('/tmp/plc-log-');
    const path = join(dir, 'stderr.sock');
    server = createServer();
    server.listen(path);
    await once(server, 'listening');
    const accepted = once(server, 'connection');
    writerEnd = createConnection(path);
    await once(writerEnd, 'connect');
    reader = (await accepted)[0] as Socket;
    reader.pause();
  });
  afterEach(async () => {
    writerEnd.destroy();
    reader.destroy();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('drops and counts lines past maxQueuedBytes, then says how many once the reader catches up', async () => {
    const writer = createLogWriter(writerEnd, {
      maxQueuedBytes: 64 * 1024,
      dropped: (count, since) => `event=log_dropped count=${count} since=${since.toISOString()}`,
    });
    const line = `event=connect ${'x'.repeat(200)}`;
    for (let i = 0; i < 20_000; i++) writer.write(`${line} n=${i}`); // ~4.4 MB offered
    expect(writerEnd.writableLength).toBeLessThanOrEqual(64 * 1024);

    let received = '';
    reader.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
    reader.resume();
    await writer.drained(10_000);
    await waitUntil(() => received.includes('event=log_dropped'));
    const lines = received.split('\n').filter((l) => l !== '');
    const kept = lines.filter((l) => l.startsWith('event=connect'));
    const announced = lines.find((l) => l.startsWith('event=log_dropped'));
    expect(kept.length).toBeGreaterThan(0);
    expect(Number(parseLogfmt(announced ?? '').count)).toBe(20_000 - kept.length); // every line is either written or counted
    // Lines kept are whole and in order: the first ones, up to where the queue filled.
    expect(kept.map((l) => Number(parseLogfmt(l).n))).toEqual(kept.map((_, i) => i));
  });
});

async function waitUntil(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
