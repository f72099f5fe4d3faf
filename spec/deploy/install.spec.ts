// Installing from this repository alone (README "Deploying"): scripts/install.sh packs the
// tarball `npm publish` would upload, installs it under a prefix with production dependencies
// only, and installs the unit, which must then pass `systemd-analyze verify` as installed (its
// ExecStart= the real installed command, its Documentation= the installed README).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
const has = (tool: string): boolean => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

describe('the packed tarball', () => {
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }),
  ) as Array<{ files: Array<{ path: string }> }>;
  const files = new Set((packed[0]?.files ?? []).map((f) => f.path));

  it('carries every local file README links, the license and the changelog', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const linked = [...readme.matchAll(/\]\(((?!https?:|#)[^)#\s]+)/g)].map((m) => m[1] ?? '');
    const wanted = [...new Set([...linked, 'README.md', 'LICENSE', 'CHANGELOG.md', 'deploy/pg-logplexcollector.service', 'deploy/pg-logplexcollector.env'])];
    expect(wanted.filter((f) => !files.has(f))).toEqual([]);
    expect([...files].filter((f) => f.startsWith('docs/')).length).toBeGreaterThanOrEqual(4);
  });

  it('leaves no tarball behind for git to see (.gitignore)', () => {
    expect(readFileSync(join(ROOT, '.gitignore'), 'utf8').split('\n')).toContain('*.tgz');
  });
});

describe('scripts/install.sh', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'plc-install-'));
    // --no-build: jest's globalSetup built dist/, which other specs are running; rebuilding it
    // under them could hand one a half-written file. The dependencies are in npm's cache after
    // `npm ci`: no need to ask the registry again.
    execFileSync('bash', [join(ROOT, 'scripts/install.sh'), '--unit-dir', join(dir, 'units'), '--env-file', join(dir, 'default/plc'), '--no-user', '--no-build', join(dir, 'opt/plc')], {
      cwd: ROOT,
      stdio: 'ignore',
      env: { ...process.env, npm_config_prefer_offline: 'true' },
      timeout: 600_000,
    });
  }, 660_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const unitPath = () => join(dir, 'units/pg-logplexcollector.service');

  it('installs the package under the prefix, its command working, production dependencies only', () => {
    const bin = join(dir, 'opt/plc/node_modules/.bin/pg-logplexcollector');
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    expect(execFileSync(bin, ['--version'], { encoding: 'utf8' })).toBe(`pg-logplexcollector ${version}\n`);
    for (const dev of ['typescript', 'jest', 'ts-jest', 'fast-check', '@types/node']) {
      expect({ dev, installed: existsSync(join(dir, 'opt/plc/node_modules', dev)) }).toEqual({ dev, installed: false });
    }
    expect(existsSync(join(dir, 'opt/plc/node_modules/rxjs'))).toBe(true); // the peer dependency, for the daemon
  });

  it('installs a unit whose paths are the installed ones, and an environment file only root reads', () => {
    const unit = readFileSync(unitPath(), 'utf8');
    const line = (key: string) => new RegExp(`^${key}=(.*)$`, 'm').exec(unit)?.[1];
    expect(line('ExecStart')?.split(' ')[0]).toBe(join(dir, 'opt/plc/node_modules/.bin/pg-logplexcollector'));
    expect(line('Documentation')).toBe(`file:${join(dir, 'opt/plc/node_modules/pg-logplexcollector/README.md')}`);
    expect(existsSync((line('Documentation') ?? '').slice('file:'.length))).toBe(true);
    expect(line('EnvironmentFile')).toBe(`-${join(dir, 'default/plc')}`);
    expect(statSync(join(dir, 'default/plc')).mode & 0o777).toBe(0o600);
  });

  const verify = has('systemd-analyze');
  (verify ? it : it.skip)(
    verify ? 'installs a unit that passes systemd-analyze verify as installed' : 'installs a unit that passes systemd-analyze verify (skipped: systemd-analyze not installed; apt-get install systemd)',
    () => {
      const run = spawnSync('systemd-analyze', ['verify', unitPath()], { encoding: 'utf8' });
      expect({ status: run.status, output: `${run.stdout}${run.stderr}`.trim() }).toEqual({ status: 0, output: '' });
    },
  );
});
