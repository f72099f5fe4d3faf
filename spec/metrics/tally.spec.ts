// Label values come from closed lists whatever peers send, and a serve has series only while it
// is in the serve set in force: the series count is the operator's to decide, not a peer's.
import { CollectorTally, OTHER, postStatusLabel } from '../../src/metrics/tally';
import { RenderShare, type Rendered } from '../../src/metrics/renderShare';
import { makeServe } from '../source/support';

const ended = { records: 0, bytes: 1, duration_ms: 1, identified: false } as const;

describe('CollectorTally', () => {
  it('keeps codes, reasons and statuses from closed lists, anything else counted as other', () => {
    const t = new CollectorTally();
    t.onServeSet([makeServe('/run/a.sock', 'a', 't', 'A')]);
    for (const code of ['LOGFEBE_BAD_ORDER', 'EVIL_\u0000CODE', 'x'.repeat(10_000)]) {
      t.onEvent({ kind: 'protocol_error', level: 'warn', serve: 'A', socket: '/run/a.sock', identity: undefined, code, reason: 'r', ...ended });
    }
    t.onEvent({ kind: 'connections_refused', level: 'warn', serve: 'A', socket: '/run/a.sock', reason: 'max_connections', refused: 3, limit: 1 });
    t.onEvent({ kind: 'batch_lost', level: 'error', serve: 'A', socket: '/run/a.sock', frames: 7, reason: 'who knows', code: 'C', status: undefined, attempts: 1 });
    const [a] = t.serves();
    expect([...a!.protocolErrors]).toEqual([['LOGFEBE_BAD_ORDER', 1], [OTHER, 2]]);
    expect([...a!.refused]).toEqual([['max_connections', 3]]);
    expect(a!.linesDropped.get(OTHER)).toBe(7);
  });

  it('names post statuses logplex commonly answers, and the class of any other', () => {
    expect(postStatusLabel('LOGPLEX_HTTP_STATUS', 401)).toBe('401');
    expect(postStatusLabel('LOGPLEX_HTTP_STATUS', 418)).toBe('4xx');
    expect(postStatusLabel('LOGPLEX_HTTP_STATUS', 999)).toBe(OTHER);
    expect(postStatusLabel('LOGPLEX_TIMEOUT', undefined)).toBe('timeout');
    expect(postStatusLabel('SOMETHING_NEW', undefined)).toBe(OTHER);
  });

  it('has series only for serves in force: events for others are not counted, a removed serve goes', () => {
    const t = new CollectorTally();
    t.onServeSet([makeServe('/run/a.sock', 'a', 't', 'A'), makeServe('/run/b.sock', 'b', 't', 'B')]);
    t.onEvent({ kind: 'connect', level: 'info', serve: undefined, socket: '/run/elsewhere.sock', identity: 'z', server_version: '15' });
    expect(t.serves().map((s) => s.socket)).toEqual(['/run/a.sock', '/run/b.sock']);
    t.onServeSet([makeServe('/run/b.sock', 'b', 't', 'B2')]);
    expect(t.serves().map((s) => [s.socket, s.labels])).toEqual([['/run/b.sock', 'serve="B2",socket="/run/b.sock"']]);
  });
});

describe('RenderShare', () => {
  const rendered = (n: number): Rendered => ({ chunks: [Buffer.from(String(n))], bytes: 1 });

  it('gives concurrent callers one render, and callers within the interval the same one', async () => {
    let now = 0;
    let renders = 0;
    const resolvers: (() => void)[] = [];
    const share = new RenderShare(
      () => new Promise<Rendered>((resolve) => resolvers.push(() => resolve(rendered(++renders)))),
      1_000,
      () => now,
    );
    const together = [share.get(), share.get(), share.get()];
    expect(resolvers).toHaveLength(1);
    resolvers[0]!();
    const got = await Promise.all(together);
    expect(new Set(got).size).toBe(1);
    now = 999;
    expect(await share.get()).toBe(got[0]);
    now = 1_000;
    const next = share.get();
    expect(resolvers).toHaveLength(2);
    resolvers[1]!();
    expect((await next).chunks[0]!.toString()).toBe('2');
    expect(share.renders).toBe(2);
  });

  it('hands a render to its callers one per turn of the event loop', async () => {
    // Sixteen scrapers handed a render at once wrote it into their sockets in one go.
    const turns: (() => void)[] = [];
    const share = new RenderShare(() => Promise.resolve(rendered(1)), 1_000, () => 0, () => new Promise<void>((resolve) => turns.push(resolve)));
    const handed: number[] = [];
    const callers = [0, 1, 2].map((n) => share.get().then(() => handed.push(n)));
    const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
    await settle();
    expect(turns).toHaveLength(1); // the first caller's turn asked for, the others wait for it
    expect(handed).toEqual([]);
    turns[0]!();
    await settle();
    expect(handed).toEqual([0]);
    expect(turns).toHaveLength(2);
    turns[1]!();
    await settle();
    turns[2]!();
    await Promise.all(callers);
    expect(handed).toEqual([0, 1, 2]);
  });

  it('does not keep a failed render: the next caller tries again', async () => {
    let fail = true;
    const share = new RenderShare(() => (fail ? Promise.reject(new Error('boom')) : Promise.resolve(rendered(1))), 60_000);
    await expect(share.get()).rejects.toThrow('boom');
    fail = false;
    expect((await share.get()).bytes).toBe(1);
  });
});
