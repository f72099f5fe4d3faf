// What the real-PostgreSQL test needs from the machine, found or named: the server binaries, the
// client tools, pg_logfebe.so, pgBadger (with Text::CSV_XS for its csv input), and a user that
// initdb accepts. Anything missing is reported with how to get it, and the run is skipped
// (exit 77): never a silent pass.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface PostgresTools {
  readonly pgConfig: string;
  readonly version: string; // `PostgreSQL 15.20 (Debian 15.20-0+deb12u1)`
  readonly major: number;
  readonly bindir: string; // where initdb, pg_ctl and postgres really are
  readonly pgbench: string;
  readonly psql: string;
  readonly logfebeLibrary: string; // the pg_logfebe.so the cluster preloads
  readonly preload: string; // shared_preload_libraries entry for it
  readonly pgbadger: string;
  // As root: run initdb and the server as `user` through `runuser`; else as ourselves.
  readonly runAs: { readonly user: string; readonly uid: number; readonly gid: number; readonly runuser: string } | undefined;
}

export interface Missing {
  readonly what: string;
  readonly how: string;
}

export type Found = { readonly ok: true; readonly tools: PostgresTools } | { readonly ok: false; readonly missing: readonly Missing[] };

const SERVER_PACKAGES = (major: number | string): string => `postgresql-${major} postgresql-server-dev-${major}`;
const LOGFEBE_HOW = (major: number | string, pgConfig: string): string =>
  `build it from the public repository logplex/pg_logfebe with PGXS: apt-get install -y build-essential ` +
  `postgresql-server-dev-${major} libkrb5-dev (libkrb5-dev: Debian 12's server headers include gssapi.h); ` +
  `git clone https://github.com/logplex/pg_logfebe && cd pg_logfebe && make PG_CONFIG=${pgConfig} && ` +
  `make install PG_CONFIG=${pgConfig} (as root)`;

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `name` as a path if it has a slash, else the first executable of that name on PATH. */
export function which(name: string, path: string | undefined): string | undefined {
  if (name.includes('/')) return executable(name) ? name : undefined;
  for (const dir of (path ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    if (executable(candidate)) return candidate;
  }
  return undefined;
}

function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv): { status: number | null; stdout: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout ?? '' };
}

/** uid and gid of `user`: from /etc/passwd, else from `id` (users from NSS elsewhere). */
function userIds(user: string, env: NodeJS.ProcessEnv): { uid: number; gid: number } | undefined {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , uid, gid] = line.split(':');
      if (name === user) return { uid: Number(uid), gid: Number(gid) };
    }
  } catch {
    // no /etc/passwd: ask id
  }
  const [uid, gid] = [run('id', ['-u', user], env), run('id', ['-g', user], env)];
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** The server's bindir: pg_config's, unless initdb is not there (a client-only pg_config), then Debian's. */
function serverBindir(reported: string, major: number): string | undefined {
  const candidates = [reported, `/usr/lib/postgresql/${major}/bin`];
  return candidates.find((dir) => ['initdb', 'pg_ctl', 'postgres'].every((b) => executable(join(dir, b))));
}

/**
 * Looks for everything; `env` is the process environment with these overrides:
 * PG_CONFIG (pg_config to ask, default `pg_config` on PATH), PG_LOGFEBE_LIBDIR (directory holding
 * pg_logfebe.so, default `pg_config --pkglibdir`), PGBADGER (default `pgbadger` on PATH).
 */
export function findPostgres(env: NodeJS.ProcessEnv, uid: number): Found {
  const missing: Missing[] = [];
  const pgConfig = which(env.PG_CONFIG ?? 'pg_config', env.PATH);
  let tools: Partial<PostgresTools> = {};
  if (pgConfig === undefined) {
    missing.push({
      what: `pg_config (${env.PG_CONFIG === undefined ? 'not on PATH' : `PG_CONFIG=${env.PG_CONFIG} is not executable`})`,
      how: `Debian 12: apt-get install -y ${SERVER_PACKAGES(15)}; or set PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config`,
    });
  } else {
    const version = run(pgConfig, ['--version'], env).stdout.trim();
    const major = Number(/^PostgreSQL (\d+)/.exec(version)?.[1] ?? NaN);
    const reportedBindir = run(pgConfig, ['--bindir'], env).stdout.trim();
    if (!Number.isInteger(major) || major < 10) {
      missing.push({ what: `a PostgreSQL 10 or later (${pgConfig} --version says ${JSON.stringify(version)})`, how: `Debian 12: apt-get install -y ${SERVER_PACKAGES(15)}` });
    } else {
      const bindir = serverBindir(reportedBindir, major);
      if (bindir === undefined) {
        missing.push({
          what: `PostgreSQL ${major} server binaries (initdb, pg_ctl, postgres) in ${reportedBindir} or /usr/lib/postgresql/${major}/bin`,
          how: `Debian 12: apt-get install -y postgresql-${major}`,
        });
      }
      // A client-only pg_config (Debian's libpq-dev one) also names the client's library directory;
      // the server's own pg_config, beside its binaries, names where the server loads modules from.
      const serverPgConfig = bindir !== undefined && bindir !== reportedBindir && executable(join(bindir, 'pg_config')) ? join(bindir, 'pg_config') : pgConfig;
      const pkglibdir = env.PG_LOGFEBE_LIBDIR ?? run(serverPgConfig, ['--pkglibdir'], env).stdout.trim();
      const client = (name: string): string | undefined => {
        const inBindir = [bindir, reportedBindir].filter((d): d is string => d !== undefined).map((d) => join(d, name)).find(executable);
        const found = inBindir ?? which(name, env.PATH);
        if (found === undefined) missing.push({ what: `${name} (not in ${bindir ?? reportedBindir}, nor on PATH)`, how: `Debian 12: apt-get install -y postgresql-client-${major}` });
        return found;
      };
      const library = join(pkglibdir, 'pg_logfebe.so');
      if (!existsSync(library)) {
        missing.push({
          what: `pg_logfebe.so in ${pkglibdir} (${env.PG_LOGFEBE_LIBDIR === undefined ? `${serverPgConfig} --pkglibdir` : 'PG_LOGFEBE_LIBDIR'})`,
          how: LOGFEBE_HOW(major, serverPgConfig),
        });
      }
      // `$libdir/…` when it is where the server looks anyway; else its full path, which the server also loads.
      const preload = env.PG_LOGFEBE_LIBDIR === undefined ? 'pg_logfebe' : join(pkglibdir, 'pg_logfebe');
      tools = { pgConfig: serverPgConfig, version, major, bindir, pgbench: client('pgbench'), psql: client('psql'), logfebeLibrary: library, preload };
    }
  }

  const pgbadger = which(env.PGBADGER ?? 'pgbadger', env.PATH);
  if (pgbadger === undefined) {
    missing.push({ what: `pgBadger (${env.PGBADGER ?? 'pgbadger'} not found)`, how: 'Debian 12: apt-get install -y pgbadger; or set PGBADGER=/path/to/pgbadger' });
  } else if (run('perl', ['-MText::CSV_XS', '-e', '1'], env).status !== 0) {
    missing.push({ what: "Perl's Text::CSV_XS (pgBadger needs it to read csvlog)", how: 'Debian 12: apt-get install -y libtext-csv-xs-perl' });
  }

  let runAs: PostgresTools['runAs'];
  if (uid === 0) {
    // initdb and the server refuse to run as root: run them as `postgres`, through runuser.
    const runuser = which('runuser', env.PATH) ?? which('runuser', '/usr/sbin:/sbin');
    if (runuser === undefined) {
      missing.push({ what: 'runuser (to run PostgreSQL as the postgres user; we are root)', how: 'Debian 12: apt-get install -y util-linux; or run this test as a non-root user' });
    }
    const ids = userIds('postgres', env);
    if (ids === undefined) {
      missing.push({ what: 'a `postgres` user (initdb refuses root)', how: 'useradd --system --home /var/lib/postgresql postgres (the postgresql-15 package creates it); or run this test as a non-root user' });
    } else runAs = { user: 'postgres', ...ids, runuser: runuser ?? 'runuser' };
  }

  if (missing.length > 0) return { ok: false, missing };
  return { ok: true, tools: { ...(tools as PostgresTools), pgbadger: pgbadger as string, runAs } };
}
