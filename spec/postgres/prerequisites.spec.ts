// What `npm run test:postgres` says when the machine lacks PostgreSQL or pg_logfebe: exactly what
// is missing and how to get it (it then exits 77, skipped). Runs against a fake pg_config, so it
// needs no PostgreSQL.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findPostgres } from './prerequisites';

describe('findPostgres', () => {
  let tmp: string;
  beforeEach(() => (tmp = mkdtempSync('/tmp/plc-prereq-')));
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  /** A pg_config reporting a PostgreSQL 15 with stub server binaries and an empty pkglibdir. */
  function fakePgConfig(): string {
    const [bindir, libdir] = [join(tmp, 'bin'), join(tmp, 'lib')];
    mkdirSync(bindir);
    mkdirSync(libdir);
    for (const stub of ['initdb', 'pg_ctl', 'postgres', 'psql', 'pgbench']) {
      writeFileSync(join(bindir, stub), '#!/bin/sh\nexit 1\n');
      chmodSync(join(bindir, stub), 0o755);
    }
    const path = join(tmp, 'pg_config');
    writeFileSync(
      path,
      `#!/bin/sh\ncase "$1" in --version) echo 'PostgreSQL 15.20';; --bindir) echo '${bindir}';; --pkglibdir) echo '${libdir}';; esac\n`,
    );
    chmodSync(path, 0o755);
    return path;
  }

  it('without pg_config: names it and the Debian packages', () => {
    const found = findPostgres({ PATH: join(tmp, 'nothing-here'), PGBADGER: '/bin/sh' }, 1000);
    expect(found.ok).toBe(false);
    const missing = found.ok ? [] : found.missing;
    expect(missing[0]?.what).toMatch(/^pg_config \(not on PATH\)/);
    expect(missing[0]?.how).toContain('apt-get install -y postgresql-15 postgresql-server-dev-15');
  });

  it('without pg_logfebe.so in the pkglibdir: says where it looked and how to build it', () => {
    const pgConfig = fakePgConfig();
    const found = findPostgres({ PATH: process.env.PATH, PG_CONFIG: pgConfig, PGBADGER: '/bin/sh' }, 1000);
    expect(found.ok).toBe(false);
    const missing = found.ok ? [] : found.missing;
    const logfebe = missing.find((m) => m.what.startsWith('pg_logfebe.so'));
    expect(logfebe?.what).toContain(join(tmp, 'lib'));
    expect(logfebe?.how).toContain('logplex/pg_logfebe');
    expect(logfebe?.how).toContain('postgresql-server-dev-15 libkrb5-dev');
    expect(logfebe?.how).toContain(`make PG_CONFIG=${pgConfig}`);
    expect(missing.map((m) => m.what).join('\n')).not.toMatch(/server binaries|psql|pgbench/);
  });

  it('PG_LOGFEBE_LIBDIR overrides where pg_logfebe.so is looked for', () => {
    const found = findPostgres({ PATH: process.env.PATH, PG_CONFIG: fakePgConfig(), PG_LOGFEBE_LIBDIR: join(tmp, 'elsewhere'), PGBADGER: '/bin/sh' }, 1000);
    const missing = found.ok ? [] : found.missing;
    expect(missing.find((m) => m.what.startsWith('pg_logfebe.so'))?.what).toBe(`pg_logfebe.so in ${join(tmp, 'elsewhere')} (PG_LOGFEBE_LIBDIR)`);
  });
});
