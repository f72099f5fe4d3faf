// Whatever arrives on a socket, the decoder answers with messages or a ProtocolError, and where a
// stream is cut never changes what it decodes to.
import fc from 'fast-check';
import { LogfebeDecoder } from '../../src/protocol/decoder';
import { encodeIdentity, encodeRecord, encodeVersion } from '../../src/protocol/encode';
import { ProtocolError } from '../../src/protocol/errors';
import type { LogfebeMessage, LogRecord } from '../../src/protocol/messages';
import { loadFixtures } from '../support/fixtures';
import { cutAt, decodeChunks, sameDecoding } from './streams';

const fixtures = loadFixtures();

/** Sorted distinct cut offsets inside a stream of `length` bytes. */
const cutsWithin = (length: number): fc.Arbitrary<number[]> =>
  fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, length - 1) }), { maxLength: 40 }).map((cuts) => [...cuts].sort((a, b) => a - b));

type Outcome = { readonly messages: LogfebeMessage[]; readonly error: ProtocolError | undefined };

/** Feed chunks until the first error; anything thrown that is not a ProtocolError escapes and fails the property. */
function feed(chunks: readonly Buffer[]): Outcome {
  const decoder = new LogfebeDecoder({ maxMessageBytes: 64 * 1024 });
  const messages: LogfebeMessage[] = [];
  try {
    for (const chunk of chunks) messages.push(...decoder.push(chunk));
    decoder.end();
    return { messages, error: undefined };
  } catch (error) {
    if (error instanceof ProtocolError) return { messages, error };
    throw error;
  }
}

const preamble = Buffer.concat([encodeVersion('PG-15.20/logfebe-1'), encodeIdentity('fuzz')]);

describe('decoder properties', () => {
  it('any bytes after the identity NUL, cut anywhere, are ignored and the records still decode', () => {
    const record = fixtures.flatMap((f) => f.messages).find((m) => m.type === 'L');
    if (record === undefined || record.type !== 'L') throw new Error('no L record in the fixtures');
    const { type: _type, ...fields } = record;
    fc.assert(
      fc.property(
        fc.string({ maxLength: 40 }).filter((s) => !s.includes('\0')),
        fc.uint8Array({ maxLength: 64 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (identity, trailing, rawCuts) => {
          const i = Buffer.concat([Buffer.from(identity, 'utf8'), Buffer.from([0]), Buffer.from(trailing)]);
          const header = Buffer.alloc(5);
          header.write('I', 0, 'latin1');
          header.writeInt32BE(4 + i.length, 1);
          const stream = Buffer.concat([encodeVersion('PG-15.18/logfebe-1'), header, i, encodeRecord(fields)]);
          const cuts = [...new Set(rawCuts.map((c) => 1 + (c % (stream.length - 1))))].sort((a, b) => a - b);
          const outcome = feed(cutAt(stream, cuts));
          expect(outcome.error).toBeUndefined();
          expect(outcome.messages[1]).toEqual({ type: 'I', identity });
          expect(outcome.messages).toHaveLength(3);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('random bytes, cut anywhere, yield messages or a ProtocolError and nothing else', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 600 }).chain((bytes) => fc.tuple(fc.constant(Buffer.from(bytes)), cutsWithin(bytes.length))),
        fc.boolean(),
        ([bytes, cuts], afterPreamble) => {
          // With a valid V and I first, the random bytes reach L framing and field parsing.
          const stream = afterPreamble ? Buffer.concat([preamble, bytes]) : bytes;
          const outcome = feed(cutAt(stream, afterPreamble ? cuts.map((c) => c + preamble.length) : cuts));
          expect(outcome.error === undefined || outcome.error.code.startsWith('LOGFEBE_')).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('a capture with a few bytes overwritten yields messages or a ProtocolError, the same however it is cut', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...fixtures),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (fixture, edits, rawCuts) => {
          const bytes = Buffer.from(fixture.bytes);
          for (const [at, value] of edits) bytes[at % bytes.length] = value;
          const cuts = [...new Set(rawCuts.map((c) => 1 + (c % (bytes.length - 1))))].sort((a, b) => a - b);
          const whole = feed([bytes]);
          const cut = feed(cutAt(bytes, cuts));
          // A cut can only move where an error is noticed, never what decodes before it or which error it is.
          expect(cut.error?.message).toBe(whole.error?.message);
          expect(sameDecoding(cut.messages, whole.messages)).toBe(true);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('valid captures cut at random decode exactly as they do whole', () => {
    const wholes = new Map(fixtures.map((f) => [f.name, decodeChunks([f.bytes])]));
    fc.assert(
      fc.property(
        fc.constantFrom(...fixtures).chain((f) => fc.tuple(fc.constant(f), cutsWithin(f.bytes.length))),
        ([fixture, cuts]) => {
          expect(sameDecoding(decodeChunks(cutAt(fixture.bytes, cuts)), wholes.get(fixture.name) ?? [])).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('any record without NULs in its strings round-trips through encode and decode, cut anywhere', () => {
    const text = fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => !s.includes('\0'));
    const nullable = fc.option(text, { nil: null });
    const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    const record: fc.Arbitrary<LogRecord> = fc.record({
      LogTime: text,
      UserName: nullable,
      DatabaseName: nullable,
      Pid: int32,
      ClientAddr: nullable,
      SessionId: text,
      SeqNum: fc.maxSafeInteger(),
      PsDisplay: nullable,
      SessionStart: text,
      Vxid: nullable,
      Txid: fc.maxSafeNat(),
      ELevel: int32,
      SQLState: nullable,
      ErrMessage: nullable,
      ErrDetail: nullable,
      ErrHint: nullable,
      InternalQuery: nullable,
      InternalQueryPos: int32,
      ErrContext: nullable,
      UserQuery: nullable,
      UserQueryPos: int32,
      FileErrPos: nullable,
      ApplicationName: nullable,
    });
    fc.assert(
      fc.property(
        fc.array(record, { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (records, rawCuts) => {
          const stream = Buffer.concat([preamble, ...records.map(encodeRecord)]);
          const cuts = [...new Set(rawCuts.map((c) => 1 + (c % (stream.length - 1))))].sort((a, b) => a - b);
          const decoded = decodeChunks(cutAt(stream, cuts)).flatMap((m) => (m.type === 'L' ? [m.record] : []));
          expect(decoded).toEqual(records);
        },
      ),
      { numRuns: 300 },
    );
  });
});
