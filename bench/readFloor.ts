// What node costs just to read PostgreSQL's send pattern, before the collector does anything with
// it: a server that counts the bytes of every 'data' event and nothing else, fed by the emulator
// as the real-pattern scenarios feed the daemon (one write per record). Its CPU per
// record is a floor under the daemon's at the same pattern: no decoding, formatting or posting can
// make reading cheaper than this, so it says how far a CPU target can be reached by work on them.
//
//   npx tsc -p tsconfig.bench.json && node build/bench/readFloor.js [--rounds 3] [--rate 20000]
//
// Prints one line per pattern and round, then a JSON line.
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareEmulator } from '../src/tools/logfebeEmulator';
import { cpuSeconds } from './harness/procStats';

/** The reader: a child process, so that its CPU is its own (the emulator runs in this one). */
const READER = `
const net = require('node:net');
let bytes = 0;
let reads = 0;
const server = net.createServer((c) => c.on('data', (b) => { bytes += b.length; reads++; }));
server.listen(process.argv[1], () => process.send('ready'));
process.on('message', () => process.send({ bytes, reads }));
`;

interface Pattern {
  readonly name: string;
  readonly connections: number;
  readonly recordsPerConnection: number;
}

// The real-pattern scenarios' sizes (bench/harness/options.ts FULL_SIZES).
const PATTERNS: readonly Pattern[] = [
  { name: 'real8', connections: 8, recordsPerConnection: 25_000 },
  { name: 'real100', connections: 100, recordsPerConnection: 2_000 },
];

function parseArgs(argv: readonly string[]): { rounds: number; rate: number } {
  let rounds = 3;
  let rate = 20_000;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--rounds') rounds = Number(argv[++i]);
    else if (a === '--rate') rate = Number(argv[++i]);
    else throw new Error(`unknown argument ${a}; usage: readFloor.js [--rounds 3] [--rate 20000]`);
  }
  if (!Number.isInteger(rounds) || rounds < 1 || !(rate > 0)) throw new Error('--rounds: a positive integer; --rate: records/s > 0');
  return { rounds, rate };
}

async function measure(pattern: Pattern, rate: number): Promise<{ cpuUsPerRecord: number; recordsPerRead: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'plc-floor-'));
  const socketPath = join(dir, 'r.sock');
  const reader = fork('-e', [READER, socketPath], { execArgv: [], stdio: 'ignore' });
  try {
    await new Promise<void>((resolve, reject) => {
      reader.once('message', () => resolve());
      reader.once('exit', (code) => reject(new Error(`reader exited (${code}) before listening`)));
    });
    const pid = reader.pid as number;
    const emulator = prepareEmulator({ socketPath, connections: pattern.connections, recordsPerConnection: pattern.recordsPerConnection, rate, preEncode: true });
    const before = cpuSeconds(pid);
    const report = await emulator.run();
    const counts = await new Promise<{ bytes: number; reads: number }>((resolve) => {
      const ask = (): void => {
        reader.once('message', (m) => {
          const c = m as { bytes: number; reads: number };
          if (c.bytes >= report.bytes) resolve(c);
          else setTimeout(ask, 20); // the last bytes may still be in flight
        });
        reader.send('count');
      };
      ask();
    });
    const cpu = cpuSeconds(pid) - before;
    return { cpuUsPerRecord: (cpu * 1e6) / report.sent, recordsPerRead: report.sent / counts.reads };
  } finally {
    reader.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { rounds, rate } = parseArgs(process.argv.slice(2));
  const results: Record<string, Array<{ cpuUsPerRecord: number; recordsPerRead: number }>> = {};
  for (let round = 1; round <= rounds; round++) {
    for (const pattern of PATTERNS) {
      const r = await measure(pattern, rate);
      (results[pattern.name] ??= []).push(r);
      process.stdout.write(
        `${pattern.name.padEnd(8)} round ${round}: ${pattern.connections}×${pattern.recordsPerConnection} one write each at ${rate} records/s: ` +
          `a reader that only counts bytes spends ${r.cpuUsPerRecord.toFixed(2)} µs CPU a record (${r.recordsPerRead.toFixed(2)} records a read)\n`,
      );
    }
  }
  process.stdout.write(`${JSON.stringify({ rate, results })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`readFloor: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
