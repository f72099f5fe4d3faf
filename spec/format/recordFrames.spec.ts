// createFormatter lays a record out in one string (recordFrames.ts), ASCII records in a
// character-counting first pass, the rest in a byte-counting one. Both must give exactly the
// bytes of the reference path, octetFrames(header, taggedMessages(recordLines(...))), which the
// other specs pin down: here every edge of the fast path is compared with it byte for byte.
import { createFormatter, createRecordWriter, FormatError, type FormatOptions } from '../../src/format';
import { frameHeader, octetFrames } from '../../src/format/frame';
import { recordLines, tagName, taggedMessages } from '../../src/format/lines';
import { compilePrefix } from '../../src/format/prefix';
import { syslogPri } from '../../src/format/severity';
import { syslogTimestamp } from '../../src/format/timestamp';
import { LogfebeDecoder } from '../../src/protocol/decoder';
import { encodeIdentity, encodeRecord, encodeVersion } from '../../src/protocol/encode';
import type { LogRecord } from '../../src/protocol/messages';
import type { SourcedRecord } from '../../src/source/sourcedRecord';
import { aRecord, serveNamed, sourced, TOKEN } from './records';

/** The reference path's header and messages (one frame each) for `rec`. */
function referenceMessages(rec: SourcedRecord, options: Partial<FormatOptions> = {}): { header: string; messages: string[] } {
  const { record, severity } = rec.message;
  const facility = options.facility ?? 16;
  const header = frameHeader(
    syslogPri(facility, severity.name),
    syslogTimestamp(record.LogTime, rec.receivedAt),
    options.hostname ?? 'postgres',
    rec.serve.target.token.reveal(),
    `postgres.${record.Pid}`,
  );
  const budget = Math.min(options.maxMessageBytes ?? 10000, 10240 - Buffer.byteLength(header));
  const lines = recordLines(record, severity.label, compilePrefix(options.linePrefix ?? 'sql_error_code = %e ')(record));
  const maxFrames = options.maxRecordFrames ?? 1000;
  return { header, messages: taggedMessages(lines, tagName(rec.serve.name), record.SeqNum, budget, maxFrames) };
}

function reference(rec: SourcedRecord, options: Partial<FormatOptions> = {}): Buffer {
  const { header, messages } = referenceMessages(rec, options);
  return octetFrames(header, messages);
}

/**
 * `rec` as the daemon sees it: through the wire and the real decoder, so its message carries the
 * decoder's `ascii` flag, which lets the formatter skip its own checks.
 */
function decoded(rec: SourcedRecord): SourcedRecord {
  const decoder = new LogfebeDecoder();
  decoder.push(Buffer.concat([encodeVersion('PG-15.20/logfebe-1'), encodeIdentity('x')]));
  const [message] = decoder.wire(encodeRecord(rec.message.record));
  if (message?.type !== 'L') throw new Error('no record decoded');
  return { ...rec, message };
}

const long = (unit: string, bytes: number): string => unit.repeat(Math.ceil(bytes / Buffer.byteLength(unit)));

const cases: [string, Partial<LogRecord>][] = [
  ['a plain LOG', {}],
  ['LOG + LOCATION', { FileErrPos: 'exec_simple_query, postgres.c:1234' }],
  ['every part', { ErrDetail: 'd', ErrHint: 'h', InternalQuery: 'q', ErrContext: 'c', FileErrPos: 'f.c:1', UserQuery: 's' }],
  ['empty fields, empty FileErrPos, no message', { ErrMessage: null, ErrDetail: '', FileErrPos: '' }],
  ['multi-line ASCII with \\r\\n, a lone \\r, inner and trailing empty lines', { ErrMessage: 'a\r\nb\r\n\nc\rd\n\n\r\n' }],
  ['a field that is only newlines', { ErrDetail: '\n\n' }],
  ['one-character last lines, and last lines that are only \\r', { ErrMessage: 'select\n1', ErrDetail: 'x\n\r', ErrHint: '\r\n\r', UserQuery: '\n' }],
  ['non-ASCII on one line', { ErrMessage: 'statement: select \'ü✓😀\'' }],
  ['non-ASCII in a multi-line field after an ASCII one', { ErrDetail: 'a\nb', UserQuery: 'é\nü\n' }],
  ['an ASCII line over the cap', { ErrMessage: 'x'.repeat(25000) }],
  ['an ASCII line exactly at the cap and one over', { ErrMessage: 'y'.repeat(10000 - '[BLUE] [5-1] sql_error_code = 00000 LOG:  '.length), UserQuery: 'z'.repeat(9990) }],
  ['a multibyte line over the cap (cuts on characters)', { UserQuery: long('😀é✓', 30000) }],
  ['a long multi-line multibyte statement', { ErrMessage: `statement: select\n${`  'ü✓ ${'x'.repeat(60)}',\n`.repeat(300)}  1;` }],
  ['N past 9 and 99 while cutting', { ErrMessage: `${'a\n'.repeat(98)}${'b'.repeat(40000)}` }],
  ['a Latin-1 character (one UTF-16 unit, two bytes)', { ErrMessage: 'caf\u00e9' }],
  ['a lone surrogate', { ErrMessage: 'bad \ud800 half' }],
];

describe('recordFrames gives the reference bytes', () => {
  const format = createFormatter();

  it.each(cases)('%s', (_name, overrides) => {
    const rec = sourced(aRecord(overrides));
    const out = format(rec);
    const expected = reference(rec);
    expect(out.bytes.equals(expected)).toBe(true);
  });

  it.each(cases)('%s, as decoded (with the ascii flag)', (_name, overrides) => {
    const rec = decoded(sourced(aRecord(overrides)));
    expect(rec.message.ascii).toBe(Buffer.byteLength(JSON.stringify(rec.message.record)) === JSON.stringify(rec.message.record).length);
    expect(format(rec).bytes.equals(reference(rec))).toBe(true);
  });

  it('an ASCII record still gets the exact path when the prefix, serve name or token is not ASCII', () => {
    const ascii = (overrides: Partial<LogRecord>, serve = serveNamed('BLUE')): SourcedRecord => {
      const rec = decoded(sourced(aRecord(overrides), { serve }));
      expect(rec.message.ascii).toBe(true);
      return rec;
    };
    const literal = createFormatter({ linePrefix: 'ü %a ' });
    const multiLine = ascii({ ErrMessage: 'a\nb', UserQuery: 'select 1\nfrom t' });
    expect(literal(multiLine).bytes.equals(reference(multiLine, { linePrefix: 'ü %a ' }))).toBe(true);
    for (const serve of [serveNamed('BLÜE'), serveNamed('é'.repeat(1000)), serveNamed('B', 't.ü')]) {
      for (const r of [ascii({ ErrMessage: 'x'.repeat(12000) }, serve), ascii({ ErrMessage: 'a\nb\nc' }, serve)]) {
        expect(format(r).bytes.equals(reference(r))).toBe(true);
      }
    }
  });

  it('non-ASCII in the prefix, the serve name or the token', () => {
    const viaPrefix = createFormatter({ linePrefix: '%a %u ' });
    const rec = sourced(aRecord({ ApplicationName: 'pgé', UserName: '✓' }));
    expect(viaPrefix(rec).bytes.equals(reference(rec, { linePrefix: '%a %u ' }))).toBe(true);
    for (const serve of [serveNamed('BLÜE'), serveNamed('é'.repeat(1000)), serveNamed(undefined), serveNamed('B', 't.ü')]) {
      const r = sourced(aRecord({ ErrMessage: 'x'.repeat(12000) }), { serve });
      expect(format(r).bytes.equals(reference(r))).toBe(true);
    }
  });

  it('frames counts the frames', () => {
    const out = format(sourced(aRecord({ ErrMessage: 'a\nb\nc', UserQuery: 'x'.repeat(25000) })));
    expect(out.frames).toBe(6);
  });

  it('a token that leaves no room throws the reference error', () => {
    // Header 68 bytes + the token: a 9911-byte token leaves a 261-byte budget, 2 after the tag.
    const rec = sourced(aRecord({ ErrMessage: 'x'.repeat(2000) }), { serve: serveNamed('N'.repeat(250), `t.${'k'.repeat(9909)}`) });
    // The reference throws the same code and message, whichever pass found it.
    let expected: unknown;
    try {
      reference(rec);
    } catch (e) {
      expected = e;
    }
    expect(expected).toBeInstanceOf(FormatError);
    expect(() => format(rec)).toThrow((expected as Error).message);
    expect(() => format(decoded(rec))).toThrow((expected as Error).message);
  });

  it('records written into a shared slab keep their bytes while later records are formatted', () => {
    // ASCII records are views of one slab (recordFrames.ts): many of them, of every size around
    // the slab's limits, interleaved with non-ASCII ones (written there, then not kept), must all
    // still read back as the reference once the last one is formatted.
    const recs: SourcedRecord[] = [];
    for (let i = 0; i < 400; i++) {
      const size = [10, 700, 5000, 16000, 17000, 22000][i % 6] as number;
      const text = i % 7 === 3 ? `é${'q'.repeat(size)}` : String.fromCharCode(97 + (i % 26)).repeat(size);
      recs.push(sourced(aRecord({ ErrMessage: `${i}`, UserQuery: text })));
    }
    const outs = recs.map((rec) => format(rec).bytes);
    recs.forEach((rec, i) => expect(outs[i]?.equals(reference(rec))).toBe(true));
    // And as decoded: ASCII ones written straight into the slab, a fresh slab when one is full,
    // the ones larger than a slab by the general path.
    const viaDecoder = recs.map(decoded);
    const decodedOuts = viaDecoder.map((rec) => format(rec).bytes);
    viaDecoder.forEach((rec, i) => expect(decodedOuts[i]?.equals(reference(rec))).toBe(true));
  });

  it('the header tail follows the token Secret and the Pid', () => {
    const a = sourced(aRecord({ Pid: 1 }), { serve: serveNamed('A', 't.one') });
    const b = sourced(aRecord({ Pid: 2 }), { serve: serveNamed('A', 't.two') });
    const c = sourced(aRecord({ Pid: 1 }), { serve: serveNamed('A', TOKEN) });
    for (const rec of [a, b, a, c, b, c]) expect(format(rec).bytes.equals(reference(rec))).toBe(true);
  });
});

describe('a record past maxRecordFrames ends in the reference marker', () => {
  // Every case at bounds around its frame count: not cut, held last frame, cut inside a line over
  // the cap, cut across parts, cut in the exact (non-ASCII) pass.
  const bounds = [2, 3, 4, 5, 7, 12, 100];
  const cutCases: [string, Partial<LogRecord>][] = [
    ...cases,
    ['many short lines, and more parts after them', { ErrMessage: `statement: ${'a\n'.repeat(50)}`, ErrDetail: 'd\ne', UserQuery: 'x\ny' }],
    ['many short non-ASCII lines', { ErrMessage: 'ü\n'.repeat(30) }],
    ['trailing empty and \\r lines after the cut', { ErrMessage: `${'b\r\n'.repeat(20)}\n\r\n\r\n` }],
  ];
  for (const maxRecordFrames of bounds) {
    const format = createFormatter({ maxRecordFrames });
    it.each(cutCases)(`%s, at most ${maxRecordFrames} frames`, (_name, overrides) => {
      for (const rec of [sourced(aRecord(overrides)), decoded(sourced(aRecord(overrides)))]) {
        const out = format(rec);
        const { messages } = referenceMessages(rec, { maxRecordFrames });
        expect(out.bytes.equals(reference(rec, { maxRecordFrames }))).toBe(true);
        expect(out.frames).toBe(messages.length);
        expect(out.frames).toBeLessThanOrEqual(maxRecordFrames);
      }
    });
  }

  it('a megabyte of short lines becomes 1000 frames by default, the last one the marker', () => {
    // About "a\n" × 524,288 fits the 1 MiB record cap; one frame a line made it 524,288 frames.
    const rec = decoded(sourced(aRecord({ ErrMessage: `statement: ${'a\n'.repeat(520_000)}` })));
    const out = createFormatter()(rec);
    expect(out.frames).toBe(1000);
    const last = out.bytes.toString('latin1').split(/\d+ <\d+>1 /).pop();
    expect(last).toMatch(/\[BLUE\] \[\d+-1000\] \.\.\. \(cut: this record takes more than 1000 frames; the rest is not shown\)$/);
  });
});

describe('createRecordWriter writes the reference bytes in place', () => {
  const writer = createRecordWriter();
  const AT = 13; // records land mid-body, after others and the headroom
  const SENTINEL = 0xa5;
  const untouched = (b: Buffer): boolean => b.every((x) => x === SENTINEL);

  const check = (rec: SourcedRecord): void => {
    const expected = reference(rec);
    const frames = referenceMessages(rec).messages.length;
    const target = Buffer.alloc(AT + expected.length + 64, SENTINEL);

    // Exactly the room it needs.
    let end = AT + expected.length;
    expect(writer.write(rec.serve, rec.message, rec.receivedAt, target, AT, end)).toBe(expected.length);
    expect(target.subarray(AT, end).equals(expected)).toBe(true);
    expect(writer.frames()).toBe(frames);
    expect(untouched(target.subarray(0, AT))).toBe(true);
    expect(untouched(target.subarray(end))).toBe(true);

    // One byte short: the length it needs, and nothing outside [at, end).
    target.fill(SENTINEL);
    end = AT + expected.length - 1;
    expect(writer.write(rec.serve, rec.message, rec.receivedAt, target, AT, end)).toBe(-expected.length);
    expect(writer.frames()).toBe(frames);
    expect(untouched(target.subarray(0, AT))).toBe(true);
    expect(untouched(target.subarray(end))).toBe(true);
  };

  it.each(cases)('%s', (_name, overrides) => check(sourced(aRecord(overrides))));

  it.each(cases)('%s, as decoded (with the ascii flag)', (_name, overrides) => check(decoded(sourced(aRecord(overrides)))));
});
