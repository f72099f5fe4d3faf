// The metrics port under sockets that hold it: idle ones, and ones trickling a request a header
// at a time. Health and readiness are still answered, and such sockets are closed within the
// header timeout, with real sockets on 127.0.0.1.
import { get } from 'node:http';
import { connect, type Socket } from 'node:net';
import { manyServes, type ManyServes } from '../../bench/harness/manyServes';
import { serveMetrics, type MetricsServer } from '../../src/metrics';
import { waitUntil } from './support';

/** GET on a connection of its own (no keep-alive agent): what a probe from outside does. */
function probe(address: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get(`http://${address}${path}`, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', reject);
  });
}

describe('the metrics port, held by others', () => {
  let bench: ManyServes;
  let server: MetricsServer;
  const sockets: Socket[] = [];

  beforeEach(() => {
    bench = manyServes(3);
  });
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await server.close();
    await bench.collector.stop();
  });

  /** `n` connections to the server, each connected; `onConnect` may start writing. */
  async function hold(n: number, onConnect: (s: Socket) => void = () => undefined): Promise<{ closed: () => number }> {
    const [host, port] = [server.address.split(':')[0]!, Number(server.address.split(':')[1])];
    let closed = 0;
    await Promise.all(
      Array.from({ length: n }, () => new Promise<void>((resolve) => {
        const s = connect(port, host);
        sockets.push(s);
        s.on('error', () => undefined);
        s.resume();
        s.once('close', () => (closed += 1));
        s.once('connect', () => {
          onConnect(s);
          resolve();
        });
      })),
    );
    return { closed: () => closed };
  }

  it('answers /healthz and /readyz while 40 idle connections are open (it holds 16)', async () => {
    server = await serveMetrics(bench.collector, { listen: '127.0.0.1:0' });
    bench.warmUp();
    await hold(40);
    for (let i = 0; i < 10; i += 1) {
      expect(await probe(server.address, '/healthz')).toBe(200);
      expect(await probe(server.address, '/readyz')).toBe(200);
      await hold(4); // and they keep coming
    }
  });

  it('answers probes while 40 connections trickle their headers, and closes those within the header timeout', async () => {
    server = await serveMetrics(bench.collector, { listen: '127.0.0.1:0', headersTimeoutMs: 1_000, requestTimeoutMs: 2_000 });
    bench.warmUp();
    const timers: NodeJS.Timeout[] = [];
    const trickling = await hold(40, (s) => {
      s.write('GET /metrics HTTP/1.1\r\nHost: x\r\n');
      const t = setInterval(() => s.write('X-Slow: y\r\n'), 100);
      timers.push(t);
      s.once('close', () => clearInterval(t));
    });
    try {
      for (let i = 0; i < 10; i += 1) expect(await probe(server.address, '/healthz')).toBe(200);
      // Every one of them is gone within seconds: the header timeout, checked every half of it.
      await waitUntil('every trickling connection closed', () => trickling.closed() === 40, 10_000);
    } finally {
      for (const t of timers) clearInterval(t);
    }
  });

  it('closes a connection that never sends a request within the header timeout', async () => {
    server = await serveMetrics(bench.collector, { listen: '127.0.0.1:0', headersTimeoutMs: 1_000, requestTimeoutMs: 2_000 });
    const idle = await hold(1);
    await waitUntil('the idle connection closed', () => idle.closed() === 1, 10_000);
  });
});
