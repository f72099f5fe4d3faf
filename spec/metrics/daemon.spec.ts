// --metrics-listen on the real command: the endpoint comes up before the serve database, its
// counters agree with the daemon's own stats line, and it never keeps the process from exiting.
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { runEmulator } from '../../src/tools/logfebeEmulator';
import { useDaemonBed } from '../support/daemonBed';
import { parsePrometheusText, sumOf } from '../support/promText';
import { httpGet } from './support';


const TOKEN = 't.5ca1ab1e-0000-4000-8000-00000000d43e';
const P = 'pg_logplexcollector_';

describe('pg-logplexcollector --metrics-listen', () => {
  const bed = useDaemonBed('plc-md');

  it('serves metrics that match the stats line, /readyz 200 once listening, and exits 0 on SIGTERM', async () => {
    const socket = join(bed.dir, 'pg.sock');
    bed.writeServes([{ i: 'db1', t: TOKEN, p: socket, name: 'BLUE' }]);
    const d = bed.start(['--metrics-listen', '127.0.0.1:0', '--stats-interval', '100ms']);
    const { address } = await d.waitFor('metrics_listening');
    await d.waitFor('listening');
    expect(await httpGet(`http://${address}/readyz`)).toMatchObject({ status: 200, body: 'ready\n' });

    await runEmulator({ socketPath: socket, identity: 'db1', connections: 2, recordsPerConnection: 20 });
    const line = await d.waitFor('stats', (l) => l.records_in === '40' && l.queued_bytes === '0' && l.connections === '0');
    const families = parsePrometheusText((await httpGet(`http://${address}/metrics`)).body);
    expect(sumOf(families, `${P}records_received_total`, { serve: 'BLUE', socket })).toBe(Number(line.records_in));
    expect(sumOf(families, `${P}frames_sent_total`)).toBe(Number(line.frames_out));
    expect(sumOf(families, `${P}posts_total`, { status: '2xx' })).toBe(Number(line.requests_ok));
    expect(sumOf(families, `${P}lines_dropped_total`, { reason: 'buffer_full' })).toBe(Number(line.dropped));
    expect(sumOf(families, `${P}lines_dropped_total`) - Number(line.dropped)).toBe(Number(line.lost));
    expect(bed.standIn.stats().frames).toBe(Number(line.frames_out));

    d.kill('SIGTERM');
    expect(await d.exited).toEqual({ code: 0, signal: null });
  });

  it('loads prom-client only for metrics: not with the library, and through the metrics subpath', () => {
    const loads = (what: string): boolean =>
      execFileSync(process.execPath, ['-e', `require(${JSON.stringify(what)}); process.stdout.write(String(Object.keys(require.cache).some((k) => k.includes('/prom-client/'))))`], {
        cwd: join(__dirname, '../..'),
        encoding: 'utf8',
      }) === 'true';
    expect(loads('pg-logplexcollector')).toBe(false); // ~12 MB that an embedder without metrics does not pay
    expect(loads('pg-logplexcollector/metrics')).toBe(true);
  });

  it('refuses to start, in one line, when the metrics address is taken', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = (taken.address() as { port: number }).port;
      const d = bed.start(['--metrics-listen', `127.0.0.1:${port}`]);
      expect((await d.exited).code).toBe(1);
      expect(d.lines.filter((l) => l !== '' && !l.includes('level='))).toEqual([
        expect.stringMatching(new RegExp(`^pg-logplexcollector: cannot listen for metrics on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`)),
      ]);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
