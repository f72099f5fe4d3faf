// `npm start` with no configuration: a whole pipeline on one machine, so a newcomer sees real
// PostgreSQL log lines arrive the way `heroku logs` shows them, within seconds:
//
//   pg_logfebe emulator ──unix socket──▶ collector ──HTTP──▶ logplex stand-in ──▶ stdout
//   (replays DEMO_SESSIONS)              (this daemon)       (prints heroku-logs lines)
//
// The serve database is a real directory (a fresh one under the temp dir): the demo writes serves.new and
// the collector accepts it exactly as in production. A real PostgreSQL with pg_logfebe can be
// pointed at the same socket while the demo runs.
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { filter, firstValueFrom } from '../rx';
import { runEmulator } from '../tools/logfebeEmulator';
import { startLogplexStandIn } from '../tools/logplexStandIn';
import { MAX_UNIX_SOCKET_PATH_BYTES } from '../source/listenUnix';
import type { DaemonConfig } from '../daemon/config';
import { startDaemon } from '../daemon/main';
import { DEMO_SESSIONS } from './sessions';

const DEMO_IDENTITY = 'demo';
const DEMO_TOKEN = 't.00000000-0000-4000-8000-00000000demo'; // shaped like a logplex token
const SESSION_PAUSE_MS = 3_000; // between replayed sessions: readable, still lively
const RECORDS_PER_SECOND = 20; // each session trickles in like a psql user typing

/**
 * A fresh directory for the demo's serve database and socket, under the temp dir (TMPDIR), or
 * under /tmp when that path is too long for a unix socket. Never the working directory: `npm
 * start` may run anywhere, read-only or not, and must not leave files behind.
 */
function demoDirectory(): string {
  const under = (parent: string): string => mkdtempSync(join(parent, 'pg-logplexcollector-demo-'));
  const fits = (dir: string): boolean => Buffer.byteLength(join(dir, 'pg-logplexcollector-demo-XXXXXX', 'logfebe.sock')) < MAX_UNIX_SOCKET_PATH_BYTES;
  return under(fits(tmpdir()) ? tmpdir() : '/tmp');
}

export async function runDemo(config: DaemonConfig): Promise<void> {
  // Always a temporary directory, never SERVE_DB_DIR: a demo must not write into a real serve
  // database. Removed when the demo ends.
  const base = demoDirectory();
  const serveDbDir = join(base, 'servedb');
  mkdirSync(serveDbDir);
  const socketPath = join(base, 'logfebe.sock');

  const standIn = await startLogplexStandIn({ print: process.stdout });
  // Written the way operators should: to a temporary name, then renamed (spec: serve-db.md).
  const serves = { serves: [{ i: DEMO_IDENTITY, t: DEMO_TOKEN, p: socketPath, name: 'DEMO' }] };
  writeFileSync(join(serveDbDir, 'serves.new.tmp'), `${JSON.stringify(serves, null, 2)}\n`);
  renameSync(join(serveDbDir, 'serves.new.tmp'), join(serveDbDir, 'serves.new'));

  const daemonConfig: DaemonConfig = { ...config, logplexUrl: new URL(standIn.url) };
  const { collector, finished } = await startDaemon(daemonConfig, serveDbDir);
  await firstValueFrom(collector.serveSet$.pipe(filter((set) => set.some((s) => s.socketPath === socketPath))));

  process.stdout.write(
    [
      '',
      'pg-logplexcollector demo',
      `  serve database   ${serveDbDir}`,
      `  socket           ${socketPath}   (identity "${DEMO_IDENTITY}", name DEMO)`,
      `  logplex stand-in ${standIn.url}   prints what it receives, as \`heroku logs\` would`,
      `  emulator         replays ${DEMO_SESSIONS.length} real PostgreSQL 15 sessions, one every ${SESSION_PAUSE_MS / 1000} s`,
      '',
      'To send a real PostgreSQL here too (pg_logfebe installed), add to postgresql.conf and restart:',
      "  shared_preload_libraries = 'pg_logfebe'",
      `  logfebe.unix_socket = '${socketPath}'`,
      `  logfebe.identity = '${DEMO_IDENTITY}'`,
      '',
      'Our own log goes to stderr. Ctrl-C stops (after delivering what was read).',
      '',
      '',
    ].join('\n'),
  );

  const emulation = new AbortController();
  collector.event$.pipe(filter((e) => e.kind === 'stopping')).subscribe(() => emulation.abort());
  const replay = (async () => {
    for (let i = 0; !emulation.signal.aborted; i = (i + 1) % DEMO_SESSIONS.length) {
      const session = DEMO_SESSIONS[i];
      if (session === undefined) break;
      await runEmulator({
        socketPath,
        identity: DEMO_IDENTITY,
        version: 'PG-15.20 (Debian 15.20-0+deb12u1)/logfebe-1',
        source: { kind: 'replay', records: session.records },
        recordsPerConnection: session.records.length,
        rate: RECORDS_PER_SECOND,
        signal: emulation.signal,
      });
      await new Promise<void>((done) => {
        const timer = setTimeout(done, SESSION_PAUSE_MS);
        emulation.signal.addEventListener('abort', () => (clearTimeout(timer), done()), { once: true });
      });
    }
  })();

  await finished;
  emulation.abort();
  await replay.catch(() => undefined);
  await standIn.close();
  rmSync(base, { recursive: true, force: true });
}
