// How fast the protocol stage decodes real pg15 captures in memory, on one core, through the
// synchronous core and through the operator. Baseline: JSON.parse of the same records as JSON
// lines, i.e. what a collector fed by a JSON log format would spend just parsing.
//
//   npx tsc -p tsconfig.bench.json && node build/bench/decode.js [seconds per case]
//
// Prints one line per case and a final JSON line. The target (400,000 records/s) is printed,
// never asserted: machines differ.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LogfebeDecoder } from '../src/protocol/decoder';
import { encodeIdentity, encodeVersion } from '../src/protocol/encode';

const TARGET_RECORDS_PER_SECOND = 400_000;
const FIXTURE_DIR = resolve(__dirname, '../../spec/fixtures/pg15'); // build/bench -> repo root
const SOCKET_READ_BYTES = 64 * 1024; // what one read() of a busy unix socket typically returns
const LONG_CONNECTION_RECORDS = 10_000;
const seconds = Number(process.argv[2] ?? '2');

interface Capture {
  readonly bytes: Buffer;
  readonly records: number; // L messages
  readonly json: string; // the records as JSON lines, for the baseline
}

function loadCaptures(): Capture[] {
  return readdirSync(FIXTURE_DIR)
    .filter((f) => f.endsWith('.bin'))
    .sort()
    .map((bin) => {
      const json = readFileSync(join(FIXTURE_DIR, bin.replace(/\.bin$/, '.json')), 'utf8');
      const lines = json.split('\n').filter((l) => l.includes('"type": "L"') || l.includes('"type":"L"'));
      return { bytes: readFileSync(join(FIXTURE_DIR, bin)), records: lines.length, json: lines.join('\n') };
    });
}

/** The L frames of a capture: the bytes after its V and I. */
function recordFrames(capture: Capture): Buffer {
  let pos = 0;
  for (let skipped = 0; skipped < 2; skipped++) pos += 1 + capture.bytes.readInt32BE(pos + 1);
  return capture.bytes.subarray(pos);
}

interface Result {
  readonly name: string;
  readonly recordsPerSecond: number;
  readonly megabytesPerSecond: number;
}

/** Runs `once` (which returns records and bytes it handled) repeatedly for `seconds`, after a warm-up. */
function measure(name: string, once: () => { records: number; bytes: number }): Result {
  const warmUntil = Date.now() + 300;
  while (Date.now() < warmUntil) once();
  let records = 0;
  let bytes = 0;
  const start = process.hrtime.bigint();
  const budget = BigInt(Math.round(seconds * 1e9));
  let elapsed = 0n;
  while (elapsed < budget) {
    const done = once();
    records += done.records;
    bytes += done.bytes;
    elapsed = process.hrtime.bigint() - start;
  }
  const s = Number(elapsed) / 1e9;
  return { name, recordsPerSecond: Math.round(records / s), megabytesPerSecond: Math.round((bytes / s / 1e6) * 10) / 10 };
}

let sink = 0; // consumed results, so the work cannot be optimised away

function main(): void {
  const captures = loadCaptures();
  const totalBytes = captures.reduce((n, c) => n + c.bytes.length, 0);
  const totalRecords = captures.reduce((n, c) => n + c.records, 0);

  // One long-lived backend connection: V, I, then the captures' records over and over, read in
  // socket-sized chunks cut wherever 64 KiB falls, so many records straddle two reads.
  const frames = captures.map(recordFrames);
  const perRound = captures.reduce((n, c) => n + c.records, 0);
  const rounds = Math.ceil(LONG_CONNECTION_RECORDS / perRound);
  const long = Buffer.concat([encodeVersion('PG-15.20/logfebe-1'), encodeIdentity('bench'), ...Array.from({ length: rounds }, () => frames).flat()]);
  const longRecords = rounds * perRound;
  const chunks: Buffer[] = [];
  for (let at = 0; at < long.length; at += SOCKET_READ_BYTES) chunks.push(long.subarray(at, at + SOCKET_READ_BYTES));

  const results: Result[] = [
    measure('core, each capture as one chunk', () => {
      for (const capture of captures) {
        for (const m of new LogfebeDecoder().push(capture.bytes)) if (m.type === 'L') sink += m.record.Pid;
      }
      return { records: totalRecords, bytes: totalBytes };
    }),
    measure('core, long connection in 64 KiB reads', () => {
      const decoder = new LogfebeDecoder();
      for (const chunk of chunks) for (const m of decoder.push(chunk)) if (m.type === 'L') sink += m.record.Pid;
      decoder.end();
      return { records: longRecords, bytes: long.length };
    }),
    measure('baseline: JSON.parse of the same records as JSON lines', () => {
      let bytes = 0;
      for (const capture of captures) {
        for (const line of capture.json.split('\n')) sink += (JSON.parse(line) as { Pid: number }).Pid;
        bytes += capture.json.length;
      }
      return { records: totalRecords, bytes };
    }),
  ];

  for (const r of results) {
    console.log(`${r.name}: ${r.recordsPerSecond.toLocaleString('en-US')} records/s, ${r.megabytesPerSecond} MB/s`);
  }
  console.log(
    JSON.stringify({
      bench: 'protocol/decode',
      node: process.version,
      seconds,
      target_records_per_second: TARGET_RECORDS_PER_SECOND,
      meets_target: results.slice(0, 3).every((r) => r.recordsPerSecond >= TARGET_RECORDS_PER_SECOND),
      results,
      sink: sink % 7, // printed so that it is live; meaningless
    }),
  );
}

main();
