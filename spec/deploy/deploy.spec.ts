// The deployment files (deploy/pg-logplexcollector.service, Dockerfile) hold promises README
// makes: the process a supervisor starts is the daemon itself, SIGTERM is the stop signal and
// comes with time to deliver, nothing runs as root. Checked by the real tools where this machine
// has them (systemd-analyze, a docker daemon), and by reading the files everywhere.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { parseDuration } from '../../src/daemon/config';

const ROOT = resolve(__dirname, '../..');
const UNIT = join(ROOT, 'deploy/pg-logplexcollector.service');
const DOCKERFILE = join(ROOT, 'Dockerfile');
/** Node's current long-term-support line: the image's base. */
const LTS = '24';

/** `Key=value` lines of one section of a systemd unit (repeated keys keep every value). */
function unitSection(text: string, section: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header !== null) {
      current = header[1] ?? '';
      continue;
    }
    const eq = line.indexOf('=');
    if (current !== section || eq < 0) continue;
    const key = line.slice(0, eq);
    out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

/** systemd time spans as the unit uses them: `30s`, `2min`, `90`. */
function systemdSeconds(text: string): number {
  const m = /^(\d+)\s*(s|sec|min|m)?$/.exec(text.trim());
  if (m === null) throw new Error(`unexpected time span ${text}`);
  return Number(m[1]) * (m[2] === 'min' || m[2] === 'm' ? 60 : 1);
}

const has = (tool: string): boolean => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

describe('deploy/pg-logplexcollector.service', () => {
  const unit = readFileSync(UNIT, 'utf8');
  const service = unitSection(unit, 'Service');
  const one = (key: string): string | undefined => service.get(key)?.at(-1);

  it('starts the daemon itself under a dedicated user, sockets in a RuntimeDirectory', () => {
    const execStart = one('ExecStart') ?? '';
    expect(execStart).toMatch(/^\/\S*\/node_modules\/\.bin\/pg-logplexcollector(\s|$)/);
    expect(execStart).not.toMatch(/\b(npx|npm)\b/);
    expect(one('User')).toBe('pg-logplexcollector');
    expect(one('RuntimeDirectory')).toBe('pg-logplexcollector');
    expect(one('Restart')).toBe('on-failure');
    expect(one('RestartPreventExitStatus')).toBe('2'); // a bad configuration does not fix itself
    expect(one('ExecReload')).toBe('/bin/kill -HUP $MAINPID');
    expect(one('KillSignal') ?? 'SIGTERM').toBe('SIGTERM');
  });

  it('gives the daemon longer to stop than its own shutdown timeout', () => {
    const flag = /--shutdown-timeout\s+(\S+)/.exec(one('ExecStart') ?? '');
    const shutdownMs = flag === null ? 10_000 : parseDuration('--shutdown-timeout', flag[1] ?? '', 0, 600_000);
    expect(systemdSeconds(one('TimeoutStopSec') ?? '90s') * 1000).toBeGreaterThan(shutdownMs);
  });

  it('is hardened, with the serve database the one writable path', () => {
    expect(one('NoNewPrivileges')).toBe('yes');
    expect(one('ProtectSystem')).toBe('strict');
    expect(one('PrivateTmp')).toBe('yes');
    expect(one('ProtectHome')).toBe('yes');
    expect(one('CapabilityBoundingSet')).toBe('');
    const env = (name: string) => (service.get('Environment') ?? []).map((e) => new RegExp(`^${name}=(\\S+)$`).exec(e)?.[1]).find((v) => v !== undefined);
    const serveDb = env('SERVE_DB_DIR');
    expect(serveDb).toBe('/var/lib/pg-logplexcollector');
    expect(one('ReadWritePaths')?.split(/\s+/)).toContain(serveDb);
    // The spool sits inside the one writable path.
    expect(env('PG_LOGPLEXCOLLECTOR_SPOOL_DIR')?.startsWith(`${serveDb}/`)).toBe(true);
  });

  it("takes LOGPLEX_URL and flags from an optional environment file, and names this project's README", () => {
    expect(one('EnvironmentFile')).toBe('-/etc/default/pg-logplexcollector');
    expect(unit).not.toMatch(/^Documentation=.*heroku\/pg-logplexcollector/m);
    expect(unitSection(unit, 'Unit').get('Documentation')).toEqual(['file:/opt/pg-logplexcollector/node_modules/pg-logplexcollector/README.md']);
  });

  const verify = has('systemd-analyze');
  (verify ? it : it.skip)(
    verify ? 'passes systemd-analyze verify' : 'passes systemd-analyze verify (skipped: systemd-analyze not installed; apt-get install systemd)',
    () => {
      // verify refuses an ExecStart that does not exist, so it runs against a root holding the
      // unit, the system's own units (for the default dependencies) and a stand-in executable.
      const root = mkdtempSync('/tmp/plc-unit-');
      try {
        cpSync('/usr/lib/systemd/system', join(root, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
        const unitPath = '/etc/systemd/system/pg-logplexcollector.service';
        mkdirSync(join(root, dirname(unitPath)), { recursive: true });
        writeFileSync(join(root, unitPath), unit);
        for (const cmd of [one('ExecStart'), one('ExecReload')]) {
          const exe = (cmd ?? '').split(/\s+/)[0] ?? '';
          mkdirSync(join(root, dirname(exe)), { recursive: true });
          writeFileSync(join(root, exe), '#!/bin/sh\n');
          chmodSync(join(root, exe), 0o755);
        }
        const run = spawnSync('systemd-analyze', ['verify', `--root=${root}`, unitPath], { encoding: 'utf8' });
        // verify exits 0 on unknown keys and unparsable values, and prints them: both must be clean.
        expect({ status: run.status, output: `${run.stdout}${run.stderr}`.trim() }).toEqual({ status: 0, output: '' });
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    },
  );
});

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function dockerInstructions(text: string): Array<{ op: string; args: string }> {
  const joined = text.replace(/\\\n/g, ' ');
  const out: Array<{ op: string; args: string }> = [];
  for (const raw of joined.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\w+)\s+(.*)$/.exec(line);
    if (m !== null) out.push({ op: (m[1] ?? '').toUpperCase(), args: m[2] ?? '' });
  }
  return out;
}

describe('Dockerfile', () => {
  const instructions = dockerInstructions(readFileSync(DOCKERFILE, 'utf8'));
  const stages = instructions.reduce<Array<typeof instructions>>((acc, i) => {
    if (i.op === 'FROM') acc.push([]);
    acc.at(-1)?.push(i);
    return acc;
  }, []);
  const final = stages.at(-1) ?? [];
  const finalOf = (op: string) => final.filter((i) => i.op === op);

  it("runs on the current LTS line, one of package.json's engines, production dependencies only", () => {
    const engines = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
    const base = stages.map((stage) => /^node:(\d+)-slim(\s|$)/.exec(stage[0]?.args ?? '')?.[1]);
    expect(base).toEqual([LTS, LTS]);
    expect(engines.split('||').map((range) => range.trim())).toContain(`^${LTS}`);
    expect(finalOf('RUN').some((i) => /\bnpm ci\b.*--omit=dev/.test(i.args))).toBe(true);
    expect(finalOf('COPY').some((i) => /--from=build\b.*\bdist\b/.test(i.args))).toBe(true);
  });

  it('runs as a non-root user, the daemon itself as PID 1 (exec form), stopped by SIGTERM', () => {
    const user = finalOf('USER').at(-1)?.args;
    expect(user).toBeDefined();
    expect(['root', '0', '0:0']).not.toContain(user);
    expect(finalOf('STOPSIGNAL').at(-1)?.args).toBe('SIGTERM');
    const entry = finalOf('ENTRYPOINT').at(-1)?.args ?? '';
    const argv = JSON.parse(entry) as unknown; // exec form: a JSON array, no shell in between
    expect(Array.isArray(argv)).toBe(true);
    expect((argv as string[]).slice(0, 2)).toEqual(['node', 'bin/pg-logplexcollector.js']);
    expect(entry).not.toMatch(/\b(npx|npm)\b/);
    const cmd = finalOf('CMD').at(-1)?.args;
    if (cmd !== undefined) expect(Array.isArray(JSON.parse(cmd))).toBe(true);
    // The daemon stops within what `docker stop` waits by default (10 s).
    const timeout = (argv as string[])[(argv as string[]).indexOf('--shutdown-timeout') + 1] ?? '10s';
    expect(parseDuration('--shutdown-timeout', timeout, 0, 600_000)).toBeLessThan(10_000);
  });

  /** ENV values of the final stage (`ENV A=1 B=2` on one line or several). */
  const env = (name: string): string | undefined =>
    finalOf('ENV')
      .flatMap((i) => [...i.args.matchAll(/(\w+)=(\S+)/g)])
      .find((m) => m[1] === name)?.[2];

  it('keeps the serve database, the spool and the socket directory in volumes', () => {
    const volumes = finalOf('VOLUME').flatMap((i) => JSON.parse(i.args) as string[]);
    const serveDb = env('SERVE_DB_DIR');
    const spool = env('PG_LOGPLEXCOLLECTOR_SPOOL_DIR');
    expect({ serveDb, spool }).toEqual({ serveDb: expect.stringMatching(/^\//), spool: expect.stringMatching(/^\//) });
    expect(volumes).toEqual(expect.arrayContaining([serveDb, spool, '/run/pg-logplexcollector']));
  });

  it('serves metrics on every interface of the container, on the port it exposes', () => {
    const listen = env('PG_LOGPLEXCOLLECTOR_METRICS_LISTEN') ?? '';
    expect(listen).toMatch(/^0\.0\.0\.0:\d+$/);
    expect(finalOf('EXPOSE').map((i) => i.args)).toEqual([listen.split(':')[1]]);
  });

  describe('HEALTHCHECK', () => {
    const check = finalOf('HEALTHCHECK').at(-1)?.args ?? '';
    const argv = JSON.parse(/\bCMD\s+(\[.*\])$/.exec(check)?.[1] ?? '[]') as string[];
    let server: Server;
    let status = 200;
    let port = 0;
    beforeAll(async () => {
      server = createServer((req, res) => {
        res.writeHead(req.url === '/healthz' ? status : 404);
        res.end();
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      port = (server.address() as AddressInfo).port;
    });
    afterAll(() => new Promise((done) => server.close(done)));
    // The command as docker runs it in the image (its node is the first word), on this node; not
    // spawnSync, which would hold the event loop the server above answers on.
    const probe = async (listen: string): Promise<number | null> => {
      const child = spawn(process.execPath, argv.slice(1), { env: { PG_LOGPLEXCOLLECTOR_METRICS_LISTEN: listen }, stdio: 'ignore' });
      const [code] = (await once(child, 'exit')) as [number | null];
      return code;
    };

    it('asks /healthz on the port the metrics variable names: healthy on 200, not on anything else', async () => {
      expect(argv[0]).toBe('node');
      status = 200;
      expect(await probe(`0.0.0.0:${port}`)).toBe(0);
      status = 503;
      expect(await probe(`0.0.0.0:${port}`)).toBe(1);
    });

    it('is unhealthy when nothing answers', async () => {
      const closed = createServer();
      closed.listen(0, '127.0.0.1');
      await once(closed, 'listening');
      const free = (closed.address() as AddressInfo).port;
      await new Promise((done) => closed.close(done));
      expect(await probe(`0.0.0.0:${free}`)).toBe(1);
    });
  });

  const docker = has('docker') && spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0;
  (docker ? it : it.skip)(
    docker ? 'builds' : 'builds (skipped: no docker daemon on this machine; `docker info` fails)',
    () => {
      execFileSync('docker', ['build', '-q', '-t', 'pg-logplexcollector:test', ROOT], { stdio: 'ignore', timeout: 600_000 });
      const out = execFileSync('docker', ['run', '--rm', 'pg-logplexcollector:test', '--version'], { encoding: 'utf8' });
      expect(out).toMatch(/^pg-logplexcollector \d+\.\d+\.\d+/);
    },
    600_000,
  );
});
