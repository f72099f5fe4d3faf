// Every way a connection can break logfebe-1, and the line an operator reads when it does.
import { LogfebeDecoder } from '../../src/protocol/decoder';
import { encodeIdentity, encodeRaw, encodeRecord, encodeVersion } from '../../src/protocol/encode';
import { ProtocolError } from '../../src/protocol/errors';
import { OptionsError } from '../../src/errors';
import type { LogRecord } from '../../src/protocol/messages';
import { byteByByte, decodeChunks, fullRecord, violationOf } from './streams';

const V = encodeVersion('PG-15.20/logfebe-1');
const I = encodeIdentity('test identity');
const L = encodeRecord(fullRecord);
const preamble = Buffer.concat([V, I]);

/** A frame header alone: type byte and length field. */
function header(type: number, length: number): Buffer {
  const out = Buffer.alloc(5);
  out[0] = type;
  out.writeInt32BE(length, 1);
  return out;
}

/** Re-frame an L payload after surgery, with a length that matches. */
const reframeL = (payload: Buffer): Buffer => encodeRaw('L', payload);
const payloadOf = (frame: Buffer): Buffer => Buffer.from(frame.subarray(5));

/** The L payload of `record` with the bytes of `marker` (which must occur once) replaced. */
function patchRecord(record: LogRecord, marker: string, replacement: string): Buffer {
  const payload = payloadOf(encodeRecord(record));
  const at = payload.indexOf(marker, 0, 'latin1');
  expect(at).toBeGreaterThanOrEqual(0);
  expect(payload.indexOf(marker, at + 1, 'latin1')).toBe(-1);
  return Buffer.concat([payload.subarray(0, at), Buffer.from(replacement, 'latin1'), payload.subarray(at + marker.length)]);
}

function expectViolation(chunks: readonly Buffer[], code: string, message: string): void {
  const error = violationOf(chunks);
  expect(error).toBeInstanceOf(ProtocolError);
  expect(error.name).toBe('ProtocolError');
  expect({ code: error.code, message: error.message }).toEqual({ code, message });
}

describe('type bytes', () => {
  it('refuses an unknown printable type byte, naming it', () => {
    expectViolation([preamble, encodeRaw('X', Buffer.alloc(0))], 'LOGFEBE_UNKNOWN_TYPE', "logfebe: message type 'X' (0x58) is not V, I or L");
  });

  it('names an unprintable type byte in hex', () => {
    expectViolation([header(0x00, 4)], 'LOGFEBE_UNKNOWN_TYPE', 'logfebe: message type 0x00 is not V, I or L');
    expectViolation([header(0xff, 4)], 'LOGFEBE_UNKNOWN_TYPE', 'logfebe: message type 0xff is not V, I or L');
  });

  it('refuses a non-logfebe client at its first header, e.g. an HTTP request', () => {
    expectViolation([Buffer.from('GET / HTTP/1.1\r\n')], 'LOGFEBE_UNKNOWN_TYPE', "logfebe: message type 'G' (0x47) is not V, I or L");
  });
});

describe('message order', () => {
  it('refuses L before V', () => {
    expectViolation([L], 'LOGFEBE_BAD_ORDER', 'logfebe: L record before the V message');
  });

  it('refuses L before I', () => {
    expectViolation([V, L], 'LOGFEBE_BAD_ORDER', 'logfebe: L record before the I message');
  });

  it('refuses I before V', () => {
    expectViolation([I], 'LOGFEBE_BAD_ORDER', 'logfebe: I message before the V message');
  });

  it('refuses a second V, before or after I', () => {
    expectViolation([V, V], 'LOGFEBE_BAD_ORDER', 'logfebe: second V message (V comes once, first)');
    expectViolation([preamble, L, V], 'LOGFEBE_BAD_ORDER', 'logfebe: second V message (V comes once, first)');
  });

  it('refuses a second I', () => {
    expectViolation([preamble, L, I], 'LOGFEBE_BAD_ORDER', 'logfebe: second I message (I comes once, after V)');
  });

  it('refuses a misordered message on its header, before its payload arrives', () => {
    const decoder = new LogfebeDecoder();
    expect(() => decoder.push(L.subarray(0, 5))).toThrow('logfebe: L record before the V message');
  });

  it('accepts an empty connection and one that sends only V and I', () => {
    expect(decodeChunks([])).toEqual([]);
    expect(decodeChunks([preamble]).map((m) => m.type)).toEqual(['V', 'I']);
  });
});

describe('lengths', () => {
  it.each([3, 0, -1, -2147483648])('refuses a length of %i, below 4', (length) => {
    expectViolation(
      [preamble, header(0x4c, length)],
      'LOGFEBE_BAD_LENGTH',
      `logfebe: L message length ${length} is below 4 (the length counts its own 4 bytes)`,
    );
  });

  it('accepts a length of exactly 4 where the payload may be empty, and then reads its fields', () => {
    // An empty L payload passes framing and fails on its first field.
    expectViolation([preamble, header(0x4c, 4)], 'LOGFEBE_TRUNCATED_FIELD', 'logfebe: L field LogTime runs past the end of the message');
  });

  it('refuses a message over the cap as soon as its header is known', () => {
    const decoder = new LogfebeDecoder();
    decoder.push(preamble);
    expect(() => decoder.push(header(0x4c, 2_000_000))).toThrow(
      new ProtocolError('LOGFEBE_TOO_LARGE', 'L message of 2000000 bytes exceeds the 1048576-byte cap'),
    );
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('applies the cap to a header that arrives one byte at a time', () => {
    const error = violationOf([preamble, ...byteByByte(header(0x4c, 0x7fffffff))]);
    expect(error.code).toBe('LOGFEBE_TOO_LARGE');
    expect(error.message).toBe('logfebe: L message of 2147483647 bytes exceeds the 1048576-byte cap');
  });

  it('counts the cap as the length field does, inclusive', () => {
    const length = L.length - 1; // the length field of L
    expect(decodeChunks([preamble, L], { maxMessageBytes: length })).toHaveLength(3);
    const error = violationOf([preamble, L], { maxMessageBytes: length - 1 });
    expect(error.message).toBe(`logfebe: L message of ${length} bytes exceeds the ${length - 1}-byte cap`);
  });

  it('caps V and I too', () => {
    expect(violationOf([V], { maxMessageBytes: 8 }).code).toBe('LOGFEBE_TOO_LARGE');
  });

  it('refuses nonsensical options where the decoder is built', () => {
    expect(() => new LogfebeDecoder({ maxMessageBytes: 3 })).toThrow(OptionsError);
    expect(() => new LogfebeDecoder({ maxMessageBytes: 1.5 })).toThrow(OptionsError);
    expect(() => new LogfebeDecoder({ maxMessageBytes: 2 ** 31 })).toThrow(OptionsError);
  });
});

describe('nullable strings', () => {
  it('refuses a flag other than P or N, naming the field and the byte', () => {
    const payload = patchRecord(fullRecord, 'PDETAIL-TEXT', 'QDETAIL-TEXT');
    expectViolation([preamble, reframeL(payload)], 'LOGFEBE_BAD_NULL_FLAG', "logfebe: L field ErrDetail: null flag 0x51 is neither 'P' nor 'N'");
  });

  it('refuses an N followed by text rather than an empty CString', () => {
    const payload = patchRecord(fullRecord, 'PHINT-TEXT', 'NHINT-TEXT');
    expectViolation(
      [preamble, reframeL(payload)],
      'LOGFEBE_BAD_NULL_FLAG',
      "logfebe: L field ErrHint: null flag 'N' is followed by text, not an empty string",
    );
  });

  it('reads N\\0 as null and P\\0 as the empty string', () => {
    const record = { ...fullRecord, ErrHint: null, ApplicationName: '' };
    const [, , decoded] = decodeChunks([preamble, encodeRecord(record)]);
    expect(decoded).toEqual({ type: 'L', record, severity: { name: 'ERROR', label: 'ERROR' }, ascii: true });
  });

  it('flags a record ascii only when every text field is', () => {
    for (const [field, value, ascii] of [
      ['UserQuery', 'select 1', true],
      ['UserQuery', "select 'é'", false],
      ['ApplicationName', 'psql✓', false],
      ['LogTime', '2026-11-25 01:43:51.596 \u00c9ST', false], // a zone abbreviation in Latin-1
      ['ErrMessage', '\u007f', true], // DEL is still ASCII
    ] as const) {
      const [, , decoded] = decodeChunks([preamble, encodeRecord({ ...fullRecord, [field]: value })]);
      expect(decoded).toMatchObject({ type: 'L', record: { [field]: value }, ascii });
    }
  });
});

describe('fields running past the end', () => {
  // The payload cut short inside a field, with a length that agrees: framing is fine, the record is not.
  function cutInside(marker: string, keep: number): Buffer {
    const payload = payloadOf(L);
    const at = payload.indexOf(marker, 0, 'latin1');
    expect(at).toBeGreaterThanOrEqual(0);
    return reframeL(payload.subarray(0, at + keep));
  }

  it('refuses a CString without its NUL', () => {
    expectViolation([preamble, cutInside('select 1/0;', 6)], 'LOGFEBE_TRUNCATED_FIELD', 'logfebe: L field UserQuery runs past the end of the message');
  });

  it('refuses a message that ends at a nullable flag', () => {
    // Just after FileErrPos's NUL: ApplicationName's flag is missing.
    expectViolation([preamble, cutInside('int4div, int.c:841\0', 19)], 'LOGFEBE_TRUNCATED_FIELD', 'logfebe: L field ApplicationName runs past the end of the message');
  });

  it('refuses an N without its NUL', () => {
    const payload = payloadOf(encodeRecord({ ...fullRecord, ApplicationName: null }));
    expectViolation([preamble, reframeL(payload.subarray(0, payload.length - 1))], 'LOGFEBE_TRUNCATED_FIELD', 'logfebe: L field ApplicationName runs past the end of the message');
  });

  it('refuses a cut int32, int64 and uint64', () => {
    // UserQueryPos is the 4 bytes after UserQuery's NUL.
    expectViolation([preamble, cutInside('select 1/0;\0', 12 + 2)], 'LOGFEBE_TRUNCATED_FIELD', 'logfebe: L field UserQueryPos runs past the end of the message');
    // SeqNum is the 8 bytes after SessionId's NUL; Txid the 8 after Vxid's.
    expectViolation([preamble, cutInside('6b0640f6.1dd2\0', 14 + 7)], 'LOGFEBE_TRUNCATED_FIELD', 'logfebe: L field SeqNum runs past the end of the message');
    expectViolation([preamble, cutInside('3/7\0', 4 + 7)], 'LOGFEBE_TRUNCATED_FIELD', 'logfebe: L field Txid runs past the end of the message');
  });

  it('stops a CString scan at the message end even when the next message has a NUL', () => {
    // Without the bound, LogTime would run into the following V/I/L bytes of the same chunk.
    const chunk = Buffer.concat([preamble, encodeRaw('L', Buffer.from('2026-11-25')), L]);
    expectViolation([chunk], 'LOGFEBE_TRUNCATED_FIELD', 'logfebe: L field LogTime runs past the end of the message');
  });
});

describe('bytes left over', () => {
  it('refuses bytes after the last L field', () => {
    const payload = Buffer.concat([payloadOf(L), Buffer.from('abc')]);
    expectViolation([preamble, reframeL(payload)], 'LOGFEBE_TRAILING_BYTES', 'logfebe: 3 bytes left over after the L record');
  });

  it('counts one byte in the singular, NULs included', () => {
    const payload = Buffer.concat([payloadOf(L), Buffer.of(0)]);
    expectViolation([preamble, reframeL(payload)], 'LOGFEBE_TRAILING_BYTES', 'logfebe: 1 byte left over after the L record');
  });

  it('refuses bytes after the V string', () => {
    const payload = Buffer.from('PG-15.20/logfebe-1\0\0\0', 'latin1');
    expectViolation([encodeRaw('V', payload)], 'LOGFEBE_TRAILING_BYTES', 'logfebe: 2 bytes left over after the V message');
  });
});

describe('the I message', () => {
  it('ignores whatever follows the identity: pg_logfebe garbage, NULs, nothing, or many bytes', () => {
    const paddings = [
      encodeIdentity('abc'),
      encodeIdentity('abc', { padding: 'nul' }),
      encodeIdentity('abc', { padding: 'none' }),
      encodeRaw('I', Buffer.from('abc\0\x7f\0\0', 'latin1')), // PostgreSQL 15.18's bytes
      encodeRaw('I', Buffer.from('abc\0\0x\0')),
      encodeRaw('I', Buffer.concat([Buffer.from('abc\0'), Buffer.alloc(1000, 0xff)])),
    ];
    for (const i of paddings) {
      expect(decodeChunks([V, i])[1]).toEqual({ type: 'I', identity: 'abc' });
    }
  });

  it('sends garbage after the identity by default, as real pg_logfebe does', () => {
    const i = encodeIdentity('abc');
    expect([...i.subarray(i.length - 3)].some((b) => b !== 0)).toBe(true);
  });

  it('accepts an empty identity', () => {
    expect(decodeChunks([V, encodeIdentity('')])[1]).toEqual({ type: 'I', identity: '' });
  });

  it('refuses an identity without its NUL', () => {
    expectViolation([V, encodeRaw('I', Buffer.from('abc'))], 'LOGFEBE_TRUNCATED_FIELD', 'logfebe: I field Identity runs past the end of the message');
  });
});

describe('the V message', () => {
  it('refuses another protocol version', () => {
    expectViolation(
      [encodeVersion('PG-15.20/logfebe-2')],
      'LOGFEBE_BAD_VERSION',
      'logfebe: protocol version "logfebe-2" is not supported (want logfebe-1)',
    );
  });

  it('refuses a version without its NUL', () => {
    expectViolation([encodeRaw('V', Buffer.from('PG-15.20/logfebe-1'))], 'LOGFEBE_TRUNCATED_FIELD', 'logfebe: V field Version runs past the end of the message');
  });
});

describe('end of stream', () => {
  it('refuses a stream that stops inside a message', () => {
    expectViolation([preamble, L.subarray(0, 100)], 'LOGFEBE_TRUNCATED_MESSAGE', `logfebe: stream ended inside an L message (100 of its ${L.length} bytes received)`);
  });

  it('refuses a stream that stops inside a header', () => {
    expectViolation([preamble, L.subarray(0, 3)], 'LOGFEBE_TRUNCATED_MESSAGE', 'logfebe: stream ended inside a message header (3 of its 5 bytes received)');
  });
});

describe('after a violation', () => {
  it('returns the records a chunk completed before its violation, and throws on the next call', () => {
    const decoder = new LogfebeDecoder();
    const messages = decoder.push(Buffer.concat([preamble, L, L, encodeRaw('X', Buffer.alloc(0)), L]));
    expect(messages.map((m) => m.type)).toEqual(['V', 'I', 'L', 'L']);
    expect(decoder.violation?.message).toBe("logfebe: message type 'X' (0x58) is not V, I or L");
    expect(() => decoder.push(L)).toThrow(decoder.violation);
    expect(() => decoder.end()).toThrow("logfebe: message type 'X' (0x58) is not V, I or L");
  });


  it('throws the same error for every later chunk and at the end', () => {
    const decoder = new LogfebeDecoder();
    let first: unknown;
    try {
      decoder.push(L);
    } catch (error) {
      first = error;
    }
    expect(first).toBeInstanceOf(ProtocolError);
    expect(() => decoder.push(preamble)).toThrow(first as ProtocolError);
    expect(() => decoder.end()).toThrow(first as ProtocolError);
  });
});

describe('what is not a violation', () => {
  it('decodes invalid UTF-8 with replacement characters', () => {
    const payload = patchRecord(fullRecord, 'division by zero', 'division \xff\xfe zero');
    const [, , decoded] = decodeChunks([preamble, reframeL(payload)]);
    expect(decoded?.type === 'L' && decoded.record.ErrMessage).toBe('division \ufffd\ufffd zero');
  });

  it('reads multi-byte UTF-8, newlines and a CString cut between chunks mid-character', () => {
    const record = { ...fullRecord, ErrMessage: 'größe\nzweite Zeile 🐘', UserQuery: 'select \'日本語\';' };
    const stream = Buffer.concat([preamble, encodeRecord(record)]);
    const elephant = stream.indexOf(Buffer.from('🐘'));
    const [, , decoded] = decodeChunks([stream.subarray(0, elephant + 2), stream.subarray(elephant + 2)]);
    expect(decoded?.type === 'L' && decoded.record).toEqual(record);
  });

  it('reads int64 and uint64 exactly up to 2^53, and negative int64', () => {
    for (const [SeqNum, Txid] of [
      [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
      [-1, 0],
      [-(2 ** 40) - 3, 2 ** 32 + 5],
      [2 ** 32 - 1, 2 ** 31],
    ] as const) {
      const record = { ...fullRecord, SeqNum, Txid };
      const [, , decoded] = decodeChunks([preamble, encodeRecord(record)]);
      expect(decoded?.type === 'L' && [decoded.record.SeqNum, decoded.record.Txid]).toEqual([SeqNum, Txid]);
    }
  });

  it('reads negative int32 positions', () => {
    const record = { ...fullRecord, InternalQueryPos: -1, UserQueryPos: -1, Pid: 2147483647 };
    const [, , decoded] = decodeChunks([preamble, encodeRecord(record)]);
    expect(decoded?.type === 'L' && decoded.record).toEqual(record);
  });
});
