// How fast records become logplex bodies in memory, on one core: the real formatter, then the
// sink's batching (fillBodies with the sink's defaults: records written straight into pooled
// bodies), as logplexSink does it, without the HTTP. The records: the synthetic mix the
// throughput bench sends (src/tools/logfebeEmulator.ts syntheticRecord, ~5.5 frames a record) and
// the pg15 captures in spec/fixtures/pg15.
//
//   npx tsc -p tsconfig.bench.json && node build/bench/format.js [seconds per case]
//
// Baseline (same machine, before records became one Buffer and batches counted records):
// synthetic 4.48 µs/record, 222 MB/s; fixtures 2.20 µs/record, 184 MB/s.
//
// Cases: records as the daemon has them (WireRecords: the byte path, format/wireFrames.ts), and
// `/str` the same with their strings made (the string path, format/recordFrames.ts).
//
// Prints one line per case and a final JSON line. The daemon's budget is 8 µs of CPU per record
// for everything (decode, format, batch, post); this part should take well under half of it.
import { resolve } from 'node:path';
import { from, lastValueFrom, map, reduce } from 'rxjs';
import { LogfebeDecoder } from '../src/protocol/decoder';
import { encodeIdentity, encodeRecord, encodeVersion } from '../src/protocol/encode';
import type { LogRecord } from '../src/protocol/messages';
import { plainRecord } from '../src/protocol/wireRecord';
import { Secret } from '../src/secret';
import type { Serve } from '../src/servedb/serve';
import { BodyPool } from '../src/sink/bodyPool';
import { fillBodies } from '../src/sink/fillBodies';
import { NOTICE_ROOM_BYTES as NOTICE_ROOM } from '../src/sink/logplexSink';
import { sinkFormatter } from '../src/sink/formatter';
import { DEFAULT_SINK_OPTIONS } from '../src/sink/options';
import type { SourcedRecord } from '../src/source/sourcedRecord';
import { DEFAULT_EMULATOR_OPTIONS, loadFixtureRecords, syntheticRecord } from '../src/tools/logfebeEmulator';

const FIXTURE_DIR = resolve(__dirname, '../../spec/fixtures/pg15'); // build/bench -> repo root
const SYNTHETIC_BACKENDS = 4;
const SYNTHETIC_RECORDS_PER_BACKEND = 1000;
const seconds = Number(process.argv[2] ?? '3');

const serve: Serve = {
  identity: 'bench',
  socketPath: '/bench.sock',
  name: 'BENCH',
  target: { url: 'http://127.0.0.1/logs', user: 'token', token: new Secret('t.6f1c2d3e-0000-4000-8000-000000000001') },
};

/** Records decoded by the real decoder as the daemon's are: WireRecords, their text left in the bytes. */
function sourcedRecords(records: readonly LogRecord[]): SourcedRecord[] {
  const decoder = new LogfebeDecoder();
  decoder.wire(Buffer.concat([encodeVersion(DEFAULT_EMULATOR_OPTIONS.version), encodeIdentity('bench')]));
  const receivedAt = Date.now();
  return records.map((r) => {
    const [message] = decoder.wire(encodeRecord(r));
    if (message === undefined || message.type !== 'L') throw new Error('bench: the decoder did not return a record');
    return { serve, message, receivedAt };
  });
}

function syntheticMix(): SourcedRecord[] {
  const records: LogRecord[] = [];
  // Interleaved as concurrent backends arrive, seq 1..N each.
  for (let seq = 1; seq <= SYNTHETIC_RECORDS_PER_BACKEND; seq++) {
    for (let b = 0; b < SYNTHETIC_BACKENDS; b++) records.push(syntheticRecord(b, seq));
  }
  return sourcedRecords(records);
}

interface Totals {
  readonly bodies: number;
  readonly frames: number;
  readonly bytes: number;
}

const format = sinkFormatter();
const pool = new BodyPool(NOTICE_ROOM + DEFAULT_SINK_OPTIONS.maxBatchBytes, DEFAULT_SINK_OPTIONS.concurrency);

/** One pass: every record written into bodies by fillBodies, as the sink does; each body given back as after a 2xx. */
function onePass(records: readonly SourcedRecord[]): Promise<Totals> {
  return lastValueFrom(
    from(records).pipe(
      fillBodies<SourcedRecord>({
        maxFrames: DEFAULT_SINK_OPTIONS.maxBatchFrames,
        maxBytes: DEFAULT_SINK_OPTIONS.maxBatchBytes,
        flushIntervalMs: DEFAULT_SINK_OPTIONS.flushIntervalMs,
        headroom: NOTICE_ROOM,
        write: (rec, target, at, end) => format.write(rec.serve, rec.message, rec.receivedAt, target, at, end),
        framesOf: format.frames,
        accept: () => true,
        bodies: pool,
      }),
      map((filled) => {
        const body = filled.buffer.subarray(filled.start, filled.end);
        pool.give(filled.buffer);
        return { bytes: body.length, frames: filled.frames };
      }),
      reduce((t: Totals, b) => ({ bodies: t.bodies + 1, frames: t.frames + b.frames, bytes: t.bytes + b.bytes }), {
        bodies: 0,
        frames: 0,
        bytes: 0,
      }),
    ),
  );
}

interface CaseResult {
  readonly name: string;
  readonly records: number;
  readonly framesPerRecord: number;
  readonly usPerRecord: number; // CPU (user + system) per record
  readonly mbPerSecond: number; // body bytes per second of CPU
  readonly recordsPerSecond: number;
}

const scratch = Buffer.allocUnsafeSlow(DEFAULT_SINK_OPTIONS.maxBatchBytes);

/** Only the formatter, no batching: what src/format itself costs. */
function formatOnlyPass(records: readonly SourcedRecord[]): Promise<Totals> {
  let frames = 0;
  let bytes = 0;
  let at = 0;
  for (const rec of records) {
    let n = format.write(rec.serve, rec.message, rec.receivedAt, scratch, at, scratch.length);
    if (n < 0) {
      at = 0; // the scratch is full: start over (a body's worth of records at a time)
      n = format.write(rec.serve, rec.message, rec.receivedAt, scratch, at, scratch.length);
    }
    at += n;
    frames += format.frames();
    bytes += n;
  }
  return Promise.resolve({ bodies: 0, frames, bytes });
}

async function runCase(name: string, records: readonly SourcedRecord[], pass = onePass): Promise<CaseResult> {
  for (let i = 0; i < 3; i++) await pass(records); // warm up the JIT
  const cpu0 = process.cpuUsage();
  const wall0 = process.hrtime.bigint();
  let passes = 0;
  let frames = 0;
  let bytes = 0;
  while (Number(process.hrtime.bigint() - wall0) < seconds * 1e9) {
    const t = await pass(records);
    passes += 1;
    frames += t.frames;
    bytes += t.bytes;
  }
  const cpu = process.cpuUsage(cpu0);
  const cpuUs = cpu.user + cpu.system;
  const n = passes * records.length;
  return {
    name,
    records: n,
    framesPerRecord: frames / n,
    usPerRecord: cpuUs / n,
    mbPerSecond: bytes / cpuUs, // bytes per µs = MB per s
    recordsPerSecond: (n / cpuUs) * 1e6,
  };
}

async function main(): Promise<void> {
  const synthetic = syntheticMix();
  const fixtures = sourcedRecords(loadFixtureRecords(FIXTURE_DIR));
  // The same records with their strings made (plainRecord): the string path (recordFrames.ts), for the ratio.
  const withStrings = (records: readonly SourcedRecord[]): SourcedRecord[] => records.map((r) => ({ ...r, message: plainRecord(r.message) }));
  const cases: [string, SourcedRecord[]][] = [
    ['synthetic', synthetic],
    ['fixtures', fixtures],
    ['synthetic/str', withStrings(synthetic)],
    ['fixtures/str', withStrings(fixtures)],
  ];
  const results: CaseResult[] = [];
  const runs: [string, SourcedRecord[], (records: readonly SourcedRecord[]) => Promise<Totals>][] = [
    ...cases.map(([name, records]): [string, SourcedRecord[], typeof onePass] => [name, records, onePass]),
    ...cases.map(([name, records]): [string, SourcedRecord[], typeof onePass] => [`${name}/fmt`, records, formatOnlyPass]),
  ];
  for (const [name, records, pass] of runs) {
    const r = await runCase(name, records, pass);
    results.push(r);
    console.log(
      `${r.name.padEnd(14)} ${r.usPerRecord.toFixed(2).padStart(6)} µs/record  ${r.mbPerSecond.toFixed(0).padStart(4)} MB/s  ` +
        `${Math.round(r.recordsPerSecond).toLocaleString('en-US').padStart(9)} records/s  ${r.framesPerRecord.toFixed(2)} frames/record`,
    );
  }
  console.log(JSON.stringify({ bench: 'format', seconds, results }));
}

void main();
