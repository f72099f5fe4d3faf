// `logplex-standin`: the stand-in on its own, for the demo and for poking a collector by hand.
// Prints its URL first (alone on a line, so scripts can read it), then every accepted frame as
// `heroku logs` shows it; with --control, reads mode changes from stdin.
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { errnoCode } from '../errors';
import { DEFAULT_STAND_IN_OPTIONS, startLogplexStandIn, type LogplexStandIn, type StandInMode } from './logplexStandIn';

const USAGE = `usage: logplex-standin [options]

A logplex stand-in: accepts application/logplex-1 POSTs on 127.0.0.1 and prints
each frame as \`heroku logs\` would. Stops on SIGINT/SIGTERM and prints its counters.

  --port N               port to listen on (default ${DEFAULT_STAND_IN_OPTIONS.port}: any free one)
  --path P               path shown in the URL (default ${DEFAULT_STAND_IN_OPTIONS.path}; any path is accepted)
  --token T              accept only this token (basic-auth password); repeat for more
  --quiet                do not print frames
  --mode M               start in mode ok | slow | fail | hang (default ok)
  --delay-ms N           delay for --mode slow (default 1000)
  --fail-status N        status for --mode fail (default 503)
  --fail-probability P   share of requests that fail in --mode fail (default 1)
  --control              read commands from stdin, one a line:
                           ok | slow MS | fail STATUS [PROBABILITY] | hang | down | up | stats
  --help                 this text
`;

/** Where the CLI talks and when it stops; main() wires it to the process, tests to streams. */
export interface StandInCliIo {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly stdin: Readable;
  readonly stop: Promise<void>;
}

class UsageError extends Error {}

function number(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || value.trim() === '') throw new UsageError(`--${name} must be a number, got ${value}`);
  return n;
}

/** `slow 500`, `fail 503 0.5`, …: the words of a --control line or of --mode and its flags. */
export function parseMode(words: readonly string[]): StandInMode | undefined {
  const [kind, a, b] = words;
  switch (kind) {
    case 'ok':
    case 'hang':
    case 'down':
    case 'up':
      return { kind };
    case 'slow':
      return { kind, delayMs: number('delay-ms', a, 1000) };
    case 'fail': {
      const status = number('fail-status', a, 503);
      return b === undefined ? { kind, status } : { kind, status, probability: number('fail-probability', b, 1) };
    }
    default:
      return undefined;
  }
}

export async function runStandInCli(argv: string[], io: StandInCliIo): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        port: { type: 'string' },
        path: { type: 'string' },
        token: { type: 'string', multiple: true },
        quiet: { type: 'boolean' },
        mode: { type: 'string' },
        'delay-ms': { type: 'string' },
        'fail-status': { type: 'string' },
        'fail-probability': { type: 'string' },
        control: { type: 'boolean' },
        help: { type: 'boolean' },
      },
    }));
  } catch (e) {
    io.stderr.write(`${e instanceof Error ? e.message : String(e)}\n\n${USAGE}`);
    return 2;
  }
  if (values.help === true) {
    io.stdout.write(USAGE);
    return 0;
  }

  let initial: StandInMode;
  let port: number;
  try {
    port = number('port', values.port, DEFAULT_STAND_IN_OPTIONS.port);
    const mode = values.mode ?? 'ok';
    if (mode === 'ok' || mode === 'hang') initial = { kind: mode };
    else if (mode === 'slow') initial = { kind: mode, delayMs: number('delay-ms', values['delay-ms'], 1000) };
    else if (mode === 'fail') {
      initial = {
        kind: mode,
        status: number('fail-status', values['fail-status'], 503),
        probability: number('fail-probability', values['fail-probability'], 1),
      };
    } else throw new UsageError(`--mode ${mode}: use ok, slow, fail or hang`);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr.write(`${e.message}\n\n${USAGE}`);
    return 2;
  }

  let standIn: LogplexStandIn;
  try {
    standIn = await startLogplexStandIn({
      port,
      path: values.path ?? DEFAULT_STAND_IN_OPTIONS.path,
      tokens: values.token,
      print: values.quiet === true ? undefined : io.stdout,
    });
  } catch (e) {
    // A busy or forbidden port is the operator's to fix: one line, not a stack trace.
    io.stderr.write(`logplex-standin: ${listenFailure(e, port)}\n`);
    return 1;
  }
  await standIn.setMode(initial);
  io.stdout.write(`${standIn.url}\n`);
  io.stderr.write(`logplex stand-in listening on ${standIn.url} (mode ${initial.kind})\n`);

  let control: ReturnType<typeof createInterface> | undefined;
  if (values.control === true) {
    control = createInterface({ input: io.stdin, terminal: false });
    control.on('line', (line) => {
      const words = line.trim().split(/\s+/).filter((w) => w !== '');
      if (words.length === 0) return;
      if (words[0] === 'stats') {
        io.stderr.write(`${JSON.stringify(standIn.stats())}\n`);
        return;
      }
      let mode: StandInMode | undefined;
      try {
        mode = parseMode(words);
      } catch (e) {
        io.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
        return;
      }
      if (mode === undefined) {
        io.stderr.write(`unknown command: ${line.trim()} (ok | slow MS | fail STATUS [P] | hang | down | up | stats)\n`);
        return;
      }
      const m = mode;
      standIn.setMode(m).then(
        () => io.stderr.write(`mode ${m.kind}\n`),
        (e: unknown) => io.stderr.write(`mode ${m.kind} failed: ${e instanceof Error ? e.message : String(e)}\n`),
      );
    });
  }

  await io.stop;
  control?.close();
  await standIn.close();
  io.stderr.write(`${JSON.stringify(standIn.stats())}\n`);
  return 0;
}

function listenFailure(e: unknown, port: number): string {
  const code = errnoCode(e);
  const where = `${DEFAULT_STAND_IN_OPTIONS.host}:${port}`;
  if (code === 'EADDRINUSE') return `${where} is already in use: pick another --port, or 0 for any free one`;
  if (code === 'EACCES') return `${where}: permission denied (ports below 1024 need privileges): pick another --port`;
  return `cannot listen on ${where}: ${e instanceof Error ? e.message : String(e)}`;
}

export async function main(argv: string[]): Promise<void> {
  let onSignal: () => void = () => undefined;
  const stop = new Promise<void>((resolve) => (onSignal = resolve));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    process.exitCode = await runStandInCli(argv, { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, stop });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
