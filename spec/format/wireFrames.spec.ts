// The byte path (wireFrames.ts) against the string path (recordFrames.ts), which the other specs
// pin to the reference layout: the same record, decoded from the same bytes, must become the same
// bytes and frames either way, whatever its text (ASCII, control characters, newlines, non-ASCII,
// invalid UTF-8, fields over the frame cap), its LogTime, and the options. The byte path takes
// records of valid UTF-8 and hands the rest to the string path.
import fc from 'fast-check';
import { createRecordWriter, type FormatOptions } from '../../src/format';
import { LogfebeDecoder } from '../../src/protocol/decoder';
import { encodeIdentity, encodeLatin1Record, encodeRecord, encodeVersion } from '../../src/protocol/encode';
import type { LogRecord } from '../../src/protocol/messages';
import { plainRecord, WireRecord } from '../../src/protocol/wireRecord';
import { aRecord, serveNamed } from './records';

const ASCII_CHAR = fc
  .oneof(
    { weight: 12, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
    { weight: 3, arbitrary: fc.constantFrom(0x0a, 0x0d) }, // line breaks, \r\n among them
    { weight: 1, arbitrary: fc.integer({ min: 0x01, max: 0x1f }) }, // other control characters
  )
  .map((code) => String.fromCharCode(code));
// Sent as UTF-8: characters of two, three and four bytes (a surrogate pair in a string).
const UNICODE_CHAR = fc.oneof({ weight: 6, arbitrary: ASCII_CHAR }, { weight: 1, arbitrary: fc.constantFrom('é', '\u00a0', '✓', '€', '😀', '𝄞') });
// Sent as latin1, one byte a character: bytes from 0x80 on, UTF-8 where they happen to make a valid sequence, invalid elsewhere.
const ANY_BYTE = fc.oneof(
  { weight: 6, arbitrary: ASCII_CHAR },
  { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }).map((code) => String.fromCharCode(code)) },
);

const textOf = (char: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 10, arbitrary: fc.array(char, { maxLength: 40 }).map((chars) => chars.join('')) },
    // Over the frame cap: a line cut into pieces, or many lines past maxRecordFrames.
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.array(char, { minLength: 1, maxLength: 12 }), fc.integer({ min: 200, max: 2500 }))
        .map(([chars, times]) => chars.join('').repeat(times)),
    },
  );

const LOG_TIME = fc.oneof(
  fc
    .tuple(
      fc.integer({ min: 1990, max: 2090 }),
      fc.integer({ min: 1, max: 12 }),
      fc.integer({ min: 1, max: 31 }),
      fc.integer({ min: 0, max: 24 }),
      fc.integer({ min: 0, max: 59 }),
      fc.integer({ min: 0, max: 60 }),
      fc.integer({ min: 0, max: 999 }),
      fc.constantFrom('UTC', 'GMT', 'Z', '+03', '-0330', '+05:30', '-00', 'CET', 'IST', '+25', ''),
    )
    .map(([y, mo, d, h, mi, s, ms, zone]) => {
      const two = (v: number): string => String(v).padStart(2, '0');
      return `${y}-${two(mo)}-${two(d)} ${two(h)}:${two(mi)}:${two(s)}.${String(ms).padStart(3, '0')} ${zone}`;
    }),
  fc.constantFrom(
    '2026-11-25 01:43:51.5x6 UTC',
    '2026-11-25 01:43:51 UTC',
    '2026-11-25T01:43:51.596 UTC',
    '',
    // Not ASCII: character positions are not byte positions.
    'é2026-11-25 01:43:51.596 UTC',
    '2026-11-25 01:43:5é.596 UTC',
    '2026-11-25 01:43:51.596 Müll',
  ),
);

function recordOf(char: fc.Arbitrary<string>): fc.Arbitrary<LogRecord> {
  const text = textOf(char);
  const nullable = fc.option(text, { nil: null, freq: 3 });
  return fc.record({
    LogTime: LOG_TIME,
    UserName: nullable,
    DatabaseName: nullable,
    Pid: fc.oneof(fc.integer({ min: 1, max: 4_000_000 }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })),
    ClientAddr: fc.option(fc.oneof(text, fc.constantFrom('10.0.0.5:51234', '::1:5432', '[local]', ':5', 'h:', 'h:5x')), { nil: null }),
    SessionId: text,
    SeqNum: fc.oneof(fc.integer({ min: 1, max: 100_000 }), fc.maxSafeInteger()),
    PsDisplay: nullable,
    SessionStart: text,
    Vxid: nullable,
    Txid: fc.oneof(fc.constant(0), fc.maxSafeNat()),
    ELevel: fc.constantFrom(10, 15, 17, 18, 19, 21, 22, 23, 42),
    SQLState: nullable,
    ErrMessage: nullable,
    ErrDetail: nullable,
    ErrHint: nullable,
    InternalQuery: nullable,
    InternalQueryPos: fc.integer({ min: -1, max: 100 }),
    ErrContext: nullable,
    UserQuery: nullable,
    UserQueryPos: fc.integer({ min: -1, max: 100 }),
    FileErrPos: fc.option(fc.oneof(text, fc.constant('')), { nil: null }),
    ApplicationName: nullable,
  });
}

const OPTIONS: fc.Arbitrary<Partial<FormatOptions>> = fc.record({
  linePrefix: fc.constantFrom(
    'sql_error_code = %e ',
    '',
    '%m [%p] %q%u@%d ',
    '%-10a|%10h|%t|%l|%x|%c|%s|%v|%i|%e|%r|%b%n%P%Q %% ',
    '%5p %-5l %3x %-30m %20t %-8u%q%8d ',
    '%q%a ',
  ),
  maxMessageBytes: fc.constantFrom(10000, 512, 777),
  maxRecordFrames: fc.constantFrom(2, 3, 1000),
});

const SERVES = [serveNamed('BLUE'), serveNamed(undefined), serveNamed('N'.repeat(300)), serveNamed('B', 't.x')];

/** The record through the wire and the decoder, as the source hands it to the sink. */
function wire(record: LogRecord, encode: (record: LogRecord) => Buffer = encodeRecord): WireRecord {
  const decoder = new LogfebeDecoder();
  decoder.wire(Buffer.concat([encodeVersion('PG-15.20/logfebe-1'), encodeIdentity('x')]));
  const [message] = decoder.wire(encode(record));
  if (!(message instanceof WireRecord)) throw new Error('no record decoded');
  return message;
}

interface Written {
  readonly n: number;
  readonly frames: number;
  readonly bytes: Buffer;
}

describe('the byte path writes what the string path writes', () => {
  const write = (writer: ReturnType<typeof createRecordWriter>, message: Parameters<typeof writer.write>[1], room: number, serve = SERVES[0]!): Written => {
    const target = Buffer.alloc(room + 16, 0xee);
    const n = writer.write(serve, message, 1_900_000_000_123, target, 16, target.length);
    return { n, frames: writer.frames(), bytes: target.subarray(16, 16 + Math.max(n, 0)) };
  };

  const compareAs = (encode: (record: LogRecord) => Buffer) => (record: LogRecord, options: Partial<FormatOptions>, serveIndex: number): void => {
    const serve = SERVES[serveIndex % SERVES.length]!;
    const writer = createRecordWriter(options);
    const message = wire(record, encode);
    const bytePath = write(writer, message, 1 << 21, serve);
    const stringPath = write(writer, plainRecord(message), 1 << 21, serve);
    expect(bytePath.n).toBe(stringPath.n);
    expect(bytePath.frames).toBe(stringPath.frames);
    expect(bytePath.bytes.toString('latin1')).toBe(stringPath.bytes.toString('latin1'));
    // Short of room, it asks for exactly what it needs, and then writes it in that room.
    if (bytePath.n > 1) {
      expect(write(writer, message, bytePath.n - 1, serve).n).toBe(-bytePath.n);
      const exact = write(writer, message, bytePath.n, serve);
      expect(exact.n).toBe(bytePath.n);
      expect(exact.bytes.equals(stringPath.bytes)).toBe(true);
    }
  };

  const compare = compareAs(encodeRecord);

  it('for ASCII records, control characters and line breaks included', () => {
    fc.assert(fc.property(recordOf(ASCII_CHAR), OPTIONS, fc.nat(), compare), { numRuns: 300 });
  });

  it('for records in UTF-8 of every character width', () => {
    fc.assert(fc.property(recordOf(UNICODE_CHAR), OPTIONS, fc.nat(), compare), { numRuns: 300 });
  });

  it('for records with bytes from 0x80 on that are not always UTF-8', () => {
    fc.assert(fc.property(recordOf(ANY_BYTE), OPTIONS, fc.nat(), compareAs(encodeLatin1Record)), { numRuns: 150 });
  });

  it('for the cases around the frame cap and the frame bound', () => {
    const edges: Partial<LogRecord>[] = [
      { ErrMessage: 'x'.repeat(25000) },
      { ErrMessage: 'y'.repeat(10000 - '[BLUE] [5-1] sql_error_code = 00000 LOG:  '.length), UserQuery: 'z'.repeat(9990) },
      { ErrMessage: `${'a\n'.repeat(98)}${'b'.repeat(40000)}` },
      { ErrMessage: 'a\r\nb\r\n\nc\rd\n\n\r\n', ErrDetail: '\n\n', ErrHint: '\r\n\r', UserQuery: '\n' },
      { ErrMessage: null, ErrDetail: '', FileErrPos: '' },
      { ErrMessage: 'a\n'.repeat(5000) },
    ];
    for (const edge of edges) {
      for (const maxRecordFrames of [2, 3, 99, 100, 1000]) compare(aRecord(edge), { maxRecordFrames }, 0);
    }
  });

  it('pads non-ASCII prefix fields by characters, as padStart counts them', () => {
    const record = aRecord({ ApplicationName: 'é✓😀', UserName: 'ü', ClientAddr: 'hôte:5432' });
    compare(record, { linePrefix: '%-10a|%10u|%12h|%-3a ' }, 0);
  });

  it('makes no string of a record of valid UTF-8 (its record is never read)', () => {
    const writer = createRecordWriter({ linePrefix: '%m [%p] %q%u@%d %a %h %t %l %x %c %s %v %i %e %r ' });
    const message = wire(aRecord({ ErrDetail: 'a\nb', UserQuery: 'select 1' }));
    const strings = jest.spyOn(WireRecord.prototype, 'record', 'get');
    try {
      expect(write(writer, message, 1 << 16).n).toBeGreaterThan(0);
      expect(write(writer, wire(aRecord({ ErrMessage: 'caf\u00e9 ✓\n😀', ApplicationName: 'ü' })), 1 << 16).n).toBeGreaterThan(0);
      expect(strings).not.toHaveBeenCalled();
      // Invalid UTF-8 (a lone latin1 é) takes the string path, which reads it.
      write(writer, wire(aRecord({ ErrMessage: 'caf\u00e9' }), encodeLatin1Record), 1 << 16);
      expect(strings).toHaveBeenCalled();
    } finally {
      strings.mockRestore();
    }
  });
});
