// `logfebe-emulator`: plays PostgreSQL backends against a collector's socket from the shell, and
// says how long the database would have been blocked.
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { errnoCode } from '../errors';
import type { IdentityPadding } from '../protocol/encode';
import { DEFAULT_EMULATOR_OPTIONS, loadFixtureRecords, runEmulator, type EmulatorReport, type RecordSource } from './logfebeEmulator';

const USAGE = `usage: logfebe-emulator --socket PATH [options]

Plays PostgreSQL backends running pg_logfebe against a unix socket: each connection
sends V, I, then one write per record. Reports records sent and lost, and how long
any write was blocked (what the database would feel).

  --socket PATH            the collector's socket (logfebe.unix_socket); required
  --identity S             logfebe.identity (default "${DEFAULT_EMULATOR_OPTIONS.identity}")
  --version S              the V string (default ${DEFAULT_EMULATOR_OPTIONS.version})
  --identity-padding M     what follows the identity's NUL in I: garbage (3 non-NUL bytes, as
                           real pg_logfebe sends; the default), nul (3 NULs) or none
  --synthetic              generated records with unique markers (the default)
  --replay-fixtures DIR    replay the L records of DIR/*.json verbatim, cycling
  --connections N          concurrent backends (default ${DEFAULT_EMULATOR_OPTIONS.connections})
  --records N              records per connection (default ${DEFAULT_EMULATOR_OPTIONS.recordsPerConnection};
                           with --replay-fixtures, the number of fixture records)
  --rate N                 records/s over all connections (default: unlimited)
  --reconnect              after a failed send, reconnect on the next record, like pg_logfebe
  --pre-encode             build and encode every record before sending any, so that sending
                           is one write per record (for load tests past ~60k records/s)
  --json                   print the report as JSON
  --help                   this text
`;

class UsageError extends Error {}

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || value.trim() === '') throw new UsageError(`--${name} must be a whole number, got ${value}`);
  return n;
}

function identityPadding(value: string | undefined): IdentityPadding {
  if (value === undefined) return DEFAULT_EMULATOR_OPTIONS.identityPadding;
  if (value === 'garbage' || value === 'nul' || value === 'none') return value;
  throw new UsageError(`--identity-padding must be garbage, nul or none, got ${value}`);
}

/** Human summary: one line overall, then one per backend. */
export function formatReport(r: EmulatorReport): string {
  const ms = (x: number): string => x.toFixed(1);
  const lines = [
    `sent ${r.sent} lost ${r.lost} bytes ${r.bytes} in ${ms(r.elapsedMs)} ms (${Math.round(r.recordsPerSecond)} records/s); ` +
      `blocked writes ${r.blockedWrites}, max blocked ${ms(r.maxBlockedMs)} ms`,
    ...r.backends.map(
      (b) =>
        `  backend ${b.backend}: connects ${b.connects} sent ${b.sent} lost ${b.lost} ` +
        `max blocked ${ms(b.maxBlockedMs)} ms total blocked ${ms(b.totalBlockedMs)} ms` +
        (b.error === undefined ? '' : ` error: ${b.error}`),
    ),
  ];
  return `${lines.join('\n')}\n`;
}

export async function runEmulatorCli(
  argv: string[],
  io: { readonly stdout: Writable; readonly stderr: Writable; readonly signal?: AbortSignal },
): Promise<number> {
  let options: Parameters<typeof runEmulator>[0];
  let json: boolean;
  try {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        socket: { type: 'string' },
        identity: { type: 'string' },
        version: { type: 'string' },
        'identity-padding': { type: 'string' },
        synthetic: { type: 'boolean' },
        'replay-fixtures': { type: 'string' },
        connections: { type: 'string' },
        records: { type: 'string' },
        rate: { type: 'string' },
        reconnect: { type: 'boolean' },
        'pre-encode': { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean' },
      },
    });
    if (values.help === true) {
      io.stdout.write(USAGE);
      return 0;
    }
    if (values.socket === undefined) throw new UsageError('--socket is required');
    if (values.synthetic === true && values['replay-fixtures'] !== undefined) {
      throw new UsageError('--synthetic and --replay-fixtures exclude each other');
    }
    let source: RecordSource = { kind: 'synthetic' };
    let defaultRecords = DEFAULT_EMULATOR_OPTIONS.recordsPerConnection;
    if (values['replay-fixtures'] !== undefined) {
      const records = loadFixtureRecords(values['replay-fixtures']);
      if (records.length === 0) throw new UsageError(`no L records in ${values['replay-fixtures']}/*.json`);
      source = { kind: 'replay', records };
      defaultRecords = records.length;
    }
    const connections = positive('connections', values.connections, DEFAULT_EMULATOR_OPTIONS.connections);
    if (connections === 0) throw new UsageError('--connections must be at least 1');
    const rate = positive('rate', values.rate, 0);
    options = {
      socketPath: values.socket,
      identity: values.identity ?? DEFAULT_EMULATOR_OPTIONS.identity,
      version: values.version ?? DEFAULT_EMULATOR_OPTIONS.version,
      identityPadding: identityPadding(values['identity-padding']),
      source,
      connections,
      recordsPerConnection: positive('records', values.records, defaultRecords),
      rate: rate === 0 ? undefined : rate,
      reconnect: values.reconnect === true,
      preEncode: values['pre-encode'] === true,
      signal: io.signal,
    };
    json = values.json === true;
  } catch (e) {
    // parseArgs throws TypeErrors with a code for unknown or malformed flags; a missing fixture
    // directory is the user's mistake too.
    if (!(e instanceof UsageError) && !(e instanceof TypeError) && !isFsError(e)) throw e;
    io.stderr.write(`${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }

  const report = await runEmulator(options);
  io.stdout.write(json ? `${JSON.stringify(report)}\n` : formatReport(report));
  return report.backends.some((b) => b.error !== undefined && b.error !== 'aborted') ? 1 : 0;
}

function isFsError(e: unknown): boolean {
  return errnoCode(e) !== undefined && e instanceof Error && 'syscall' in e;
}

export async function main(argv: string[]): Promise<void> {
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    process.exitCode = await runEmulatorCli(argv, { stdout: process.stdout, stderr: process.stderr, signal: abort.signal });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
