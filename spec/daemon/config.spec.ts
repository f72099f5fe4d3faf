import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, EXIT, USAGE, parseConfig, parseDuration, parseSize } from '../../src/daemon/config';
import { FLAGS, renderReadmeFlagTable } from '../../src/daemon/flags';
import { formatJson, formatLogfmt } from '../../src/daemon/log';
import { Secret } from '../../src/secret';

const parse = (argv: string[], env: NodeJS.ProcessEnv = {}) => parseConfig(argv, env);
const errorOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('daemon configuration', () => {
  it('reads SERVE_DB_DIR and LOGPLEX_URL from the environment', () => {
    const c = parse([], { SERVE_DB_DIR: '/srv/db', LOGPLEX_URL: 'https://logplex.example.com/logs' });
    expect(c.serveDbDir).toBe('/srv/db');
    expect(c.logplexUrl?.href).toBe('https://logplex.example.com/logs');
    expect(c.tunables.flushIntervalMs).toBeUndefined(); // stage defaults stay in the stages
  });

  it('lets flags override the environment', () => {
    const c = parse(['--serve-db-dir', '/b', '--logplex-url', 'http://127.0.0.1:1/logs'], { SERVE_DB_DIR: '/a' });
    expect(c.serveDbDir).toBe('/b');
    expect(c.logplexUrl?.port).toBe('1');
  });

  it('parses every tunable with units', () => {
    const c = parse([
      '--flush-interval', '100ms', '--concurrency', '8', '--buffer-cap', '16MiB', '--frame-cap', '2000',
      '--batch-frames', '5000', '--batch-size', '512KiB',
      '--record-cap', '2MiB', '--max-record-frames', '500', '--partial-cap', '8MiB', '--handshake-timeout', '2s', '--read-interval', '5ms', '--max-connections', '50', '--max-unidentified', '20', '--fd-reserve', '100', '--line-prefix', '%m [%p] ', '--hostname', 'db1', '--poll-interval', '2s',
      '--gzip', '--stats-interval', '0', '--shutdown-timeout', '1m', '--log-format', 'json', '--no-watch',
      '--post-deadline', '90s',
    ]);
    expect(c.tunables).toEqual({
      flushIntervalMs: 100, concurrency: 8, maxBatchFrames: 5000, maxBatchBytes: 512 << 10, bufferCapBytes: 16 << 20, maxMessageBytes: 2000,
      maxRecordBytes: 2 << 20, maxRecordFrames: 500, maxPartialBytes: 8 << 20, handshakeTimeoutMs: 2000, readIntervalMs: 5, maxConnectionsPerServe: 50, maxUnidentifiedPerServe: 20, reservedFileDescriptors: 100, linePrefix: '%m [%p] ', hostname: 'db1', pollIntervalMs: 2000, watchEvents: false, gzip: true,
      statsIntervalMs: 0, shutdownTimeoutMs: 60_000, postDeadlineMs: 90_000,
    });
    expect(c.logFormat).toBe('json');
  });

  it('parses the socket mode (octal) and group (name or gid), and refuses what cannot work', () => {
    expect(parse(['--socket-mode', '0660', '--socket-group', 'root']).tunables).toMatchObject({ socketMode: 0o660, socketGroup: 0 });
    expect(parse(['--socket-mode', '770', '--socket-group', '4242']).tunables).toMatchObject({ socketMode: 0o770, socketGroup: 4242 });
    expect(parse([]).tunables.socketMode).toBeUndefined(); // the source's default (0777) stays the only one
    expect(errorOf(() => parse(['--socket-mode', '0999']))).toBe('--socket-mode "0999": expected an octal file mode like 0660 or 0777');
    expect(errorOf(() => parse(['--socket-mode', '0550']))).toBe('--socket-mode "0550": nobody could connect (no write permission)');
    expect(errorOf(() => parse(['--socket-group', 'no-such-group-here']))).toBe(
      '--socket-group "no-such-group-here": no such group (expected a group name or id)',
    );
  });

  it('takes a metrics address as host:port, off by default', () => {
    expect(parse([]).metricsListen).toBeUndefined();
    expect(parse(['--metrics-listen', '127.0.0.1:9187', '--metrics-process'])).toMatchObject({ metricsListen: '127.0.0.1:9187', metricsProcess: true });
    expect(parse(['--metrics-listen', '[::1]:9187']).metricsListen).toBe('[::1]:9187');
    expect(errorOf(() => parse(['--metrics-listen', '9187']))).toBe('--metrics-listen "9187": expected host:port, e.g. 127.0.0.1:9187');
    expect(errorOf(() => parse(['--metrics-listen', 'localhost:99999']))).toBe(
      '--metrics-listen "localhost:99999": expected host:port, e.g. 127.0.0.1:9187',
    );
  });

  it('names the flag and the fix when a value is out of range or malformed', () => {
    expect(errorOf(() => parse(['--concurrency', '0']))).toBe('--concurrency "0": must be between 1 and 64');
    expect(errorOf(() => parse(['--frame-cap', '20000']))).toBe('--frame-cap "20000": must be between 256 and 10000');
    expect(errorOf(() => parse(['--batch-size', '1KiB']))).toBe('--batch-size "1KiB": must be between 10KiB and 16MiB');
    expect(errorOf(() => parse(['--batch-frames', 'many']))).toBe('--batch-frames "many": expected a whole number');
    expect(errorOf(() => parse(['--max-record-frames', '1']))).toBe('--max-record-frames "1": must be between 2 and 100000');
    expect(errorOf(() => parse(['--flush-interval', 'soon']))).toBe(
      '--flush-interval "soon": expected a duration with a unit, like 250ms, 10s, 2m or 1h',
    );
    expect(errorOf(() => parse(['--post-deadline', '10ms']))).toBe('--post-deadline "10ms": must be between 1s and 1h');
    expect(errorOf(() => parse(['--log-level', 'verbose']))).toBe('--log-level "verbose": expected debug, info, warn or error');
    expect(errorOf(() => parse(['--log-format', 'xml']))).toBe('--log-format "xml": expected logfmt or json');
    expect(errorOf(() => parse(['--bogus']))).toMatch(/Unknown option '--bogus'.*see --help/);
  });

  it('refuses an unparsable LOGPLEX_URL without echoing it (it may hold credentials)', () => {
    const msg = errorOf(() => parse([], { LOGPLEX_URL: 'not a url t.secret' }));
    expect(msg).toMatch(/^LOGPLEX_URL is not a valid URL/);
    expect(msg).not.toContain('t.secret');
    expect(errorOf(() => parse([], { LOGPLEX_URL: 'ftp://u:t.secret@h/' }))).toBe(
      'LOGPLEX_URL must be an http:// or https:// URL, not ftp:',
    );
  });

  it('refuses a duration without a unit (5 ms or 5 s?), except 0', () => {
    expect(errorOf(() => parse(['--flush-interval', '5']))).toBe(
      '--flush-interval "5": expected a duration with a unit, like 250ms, 10s, 2m or 1h',
    );
    expect(errorOf(() => parse(['--shutdown-timeout', '10']))).toMatch(/^--shutdown-timeout "10": expected a duration with a unit/);
    expect(parse(['--stats-interval', '0', '--shutdown-timeout', '0']).tunables).toMatchObject({ statsIntervalMs: 0, shutdownTimeoutMs: 0 });
  });

  it('takes h as a unit of durations', () => {
    expect(parse(['--poll-interval', '1h']).tunables.pollIntervalMs).toBe(3_600_000);
    expect(parseDuration('--x', '1.5h', 0, 1e9)).toBe(5_400_000);
  });

  // The markers arrive with README's rewrite; until then there is nothing to compare, and the
  // skip says so in every run.
  const readmeTable = /<!-- flags:begin -->\n([\s\S]*?)\n<!-- flags:end -->/.exec(readFileSync(join(__dirname, '../../README.md'), 'utf8'));
  (readmeTable !== null ? it : it.skip)(
    readmeTable !== null
      ? "matches README's flag table, which is rendered from the same table as --help"
      : "matches README's flag table (skipped: README.md has no <!-- flags:begin --> ... <!-- flags:end --> markers)",
    () => {
      expect(readmeTable?.[1]?.trim()).toBe(renderReadmeFlagTable());
    },
  );

  it('--help gives a default for every flag that takes a value', () => {
    const flagLines = USAGE.split('\n').filter((l) => /^  --[a-z-]+ [A-Z]+/.test(l));
    expect(flagLines.length).toBeGreaterThanOrEqual(16);
    for (const line of flagLines) expect(line).toMatch(/\(default: [^)]+\)$/);
  });

  it('--help gives the exit codes main() uses', () => {
    expect(USAGE).toMatch(new RegExp(`Exit status: ${EXIT.ok} clean stop`));
    expect(USAGE).toMatch(new RegExp(`\\n  ${EXIT.failure} could not start`));
    expect(USAGE).toMatch(new RegExp(`\\n  ${EXIT.config} bad configuration`));
  });

  it('parses the spool flags, and refuses its knobs without a directory', () => {
    expect(parse(['--spool-dir', '/var/spool/plc', '--spool-cap', '2GiB', '--spool-sync', '250ms']).tunables).toEqual(
      expect.objectContaining({ spoolDir: '/var/spool/plc', spoolCapBytes: 2 * 1024 ** 3, spoolSyncMs: 250 }),
    );
    expect(errorOf(() => parse(['--spool-cap', '16MiB']))).toBe('--spool-cap needs --spool-dir (or PG_LOGPLEXCOLLECTOR_SPOOL_DIR)');
    expect(errorOf(() => parse(['--spool-dir', '/s', '--spool-cap', '1KiB']))).toBe('--spool-cap "1KiB": must be between 1MiB and 1024GiB');
  });

  it('parses sizes and durations', () => {
    expect(parseSize('--x', '64KiB', 0, 1e12)).toBe(65536);
    expect(parseSize('--x', '1MB', 0, 1e12)).toBe(1e6);
    expect(parseDuration('--x', '1.5s', 0, 1e9)).toBe(1500);
    expect(parseDuration('--x', '2m', 0, 1e9)).toBe(120_000);
  });
});

describe('every flag from the environment', () => {
  it('reads PG_LOGPLEXCOLLECTOR_<FLAG> for every tunable, switches included', () => {
    const c = parse([], {
      PG_LOGPLEXCOLLECTOR_FLUSH_INTERVAL: '2s', PG_LOGPLEXCOLLECTOR_BUFFER_CAP: '2GiB', PG_LOGPLEXCOLLECTOR_CONCURRENCY: '8',
      PG_LOGPLEXCOLLECTOR_GZIP: 'true', PG_LOGPLEXCOLLECTOR_NO_WATCH: '1', PG_LOGPLEXCOLLECTOR_SPOOL_DIR: '/var/spool/plc',
      PG_LOGPLEXCOLLECTOR_SPOOL_CAP: '2GB', PG_LOGPLEXCOLLECTOR_LOG_FORMAT: 'json', PG_LOGPLEXCOLLECTOR_METRICS_LISTEN: '0.0.0.0:9187',
      PG_LOGPLEXCOLLECTOR_METRICS_PROCESS: 'off',
    });
    expect(c.tunables).toMatchObject({ flushIntervalMs: 2000, bufferCapBytes: 2 * 1024 ** 3, concurrency: 8, gzip: true, watchEvents: false, spoolDir: '/var/spool/plc', spoolCapBytes: 2e9 });
    expect(c).toMatchObject({ logFormat: 'json', metricsListen: '0.0.0.0:9187', metricsProcess: false });
  });

  it('lets a flag win over its variable, and ignores an empty variable', () => {
    const env = { PG_LOGPLEXCOLLECTOR_FLUSH_INTERVAL: '2s', PG_LOGPLEXCOLLECTOR_CONCURRENCY: '' };
    expect(parse(['--flush-interval', '100ms'], env).tunables).toMatchObject({ flushIntervalMs: 100, concurrency: undefined });
  });

  it('names the variable, not a flag, when its value is wrong', () => {
    expect(errorOf(() => parse([], { PG_LOGPLEXCOLLECTOR_FLUSH_INTERVAL: '5' }))).toBe(
      'PG_LOGPLEXCOLLECTOR_FLUSH_INTERVAL "5": expected a duration with a unit, like 250ms, 10s, 2m or 1h',
    );
    expect(errorOf(() => parse([], { PG_LOGPLEXCOLLECTOR_GZIP: 'maybe' }))).toBe(
      'PG_LOGPLEXCOLLECTOR_GZIP "maybe": expected 1, true, yes or on (or 0, false, no, off)',
    );
    expect(errorOf(() => parse([], { PG_LOGPLEXCOLLECTOR_SPOOL_SYNC: '1s' }))).toBe('PG_LOGPLEXCOLLECTOR_SPOOL_SYNC needs --spool-dir (or PG_LOGPLEXCOLLECTOR_SPOOL_DIR)');
  });

  it('shows every variable in --help, under its flag', () => {
    const help = USAGE.split('\n');
    for (const flag of Object.values(FLAGS)) {
      if (flag.env === undefined) continue;
      const at = help.findIndex((l) => l.startsWith(`  --${flag.name}`));
      expect({ flag: flag.name, next: help[at + 1]?.trim() }).toEqual({ flag: flag.name, next: `env ${flag.env}` });
    }
  });
});

describe('one unit grammar', () => {
  it('takes exactly the units --help lists, in any case', () => {
    for (const [text, bytes] of [['2GiB', 2 * 1024 ** 3], ['2GB', 2e9], ['64kib', 65536], ['1MB', 1e6], ['512B', 512], ['4096', 4096]] as const) {
      expect(parseSize('--x', text, 0, 1e12)).toBe(bytes);
    }
    expect(USAGE).toMatch(/Sizes: bytes, or KiB, MiB, GiB, KB, MB, GB/);
    expect(USAGE).toMatch(/Durations take a unit: ms, s, m, h/);
    expect(() => parseSize('--x', '64k', 0, 1e12)).toThrow('--x "64k": expected a size like 65536, 64KiB, 32MiB or 2GB');
  });

  it('says a range in units, not raw bytes or milliseconds', () => {
    expect(errorOf(() => parse(['--spool-dir', '/s', '--spool-cap', '64kib']))).toBe('--spool-cap "64kib": must be between 1MiB and 1024GiB');
    expect(errorOf(() => parse(['--flush-interval', '2m']))).toBe('--flush-interval "2m": must be between 1ms and 1m');
  });
});

describe('an unknown flag', () => {
  it('offers the flag that was meant', () => {
    expect(errorOf(() => parse(['--concurency', '4']))).toBe("Unknown option '--concurency': did you mean --concurrency? (see --help)");
    expect(errorOf(() => parse(['--spool-dri=/s']))).toBe("Unknown option '--spool-dri': did you mean --spool-dir? (see --help)");
    expect(errorOf(() => parse(['--bogus']))).toBe("Unknown option '--bogus' (see --help)");
  });

  it('is not confused by a value that looks like a flag', () => {
    expect(parse(['--line-prefix=--x ']).tunables.linePrefix).toBe('--x ');
  });
});

describe('our own log lines', () => {
  const at = new Date('2026-11-25T01:02:03.004Z');
  it('prints logfmt with quoting where needed', () => {
    expect(formatLogfmt({ kind: 'connect', level: 'info', serve: 'BLUE', identity: 'test identity', n: 3 }, at)).toBe(
      'ts=2026-11-25T01:02:03.004Z level=info event=connect serve=BLUE identity="test identity" n=3',
    );
  });
  it('prints JSON', () => {
    expect(JSON.parse(formatJson({ kind: 'drop', level: 'warn', count: 5 }, at))).toEqual({
      ts: '2026-11-25T01:02:03.004Z', level: 'warn', event: 'drop', count: 5,
    });
  });
  it('never prints a secret that slipped into an event', () => {
    const event = { kind: 'x', level: 'info', token: new Secret('t.abc') } as unknown as Parameters<typeof formatLogfmt>[0];
    expect(formatLogfmt(event, at)).not.toContain('t.abc');
    expect(formatJson(event, at)).not.toContain('t.abc');
  });
});
