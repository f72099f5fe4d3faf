// Parts, lines and the frame cap: how one record becomes `[NAME] [SEQ-N] …` messages.
import { MAX_FRAME_BYTES } from '../../src/format';
import { MAX_NAME_BYTES, recordLines, taggedMessages } from '../../src/format/lines';
import { aRecord, frameFormatter, parseFrame, serveNamed, sourced, TOKEN } from './records';
import type { LogRecord } from '../../src/protocol/messages';

const format = frameFormatter();
const ERROR = { name: 'ERROR', label: 'ERROR' } as const;

function msgs(record: LogRecord, options: Parameters<typeof sourced>[1] = {}, formatter = format): string[] {
  return formatter(sourced(record, options)).map((b) => parseFrame(b).msg);
}

// The text of a message after its `[NAME] [SEQ-N] ` tag.
const TAG = /^\[[^\]]*\] \[\d+-\d+\] /;
const textOf = (msg: string): string => msg.replace(TAG, '');

describe('parts in PostgreSQL order', () => {
  it('LEVEL, DETAIL, HINT, QUERY, CONTEXT, LOCATION, STATEMENT, each with the prefix', () => {
    const record = aRecord({
      SQLState: '42P01',
      ErrMessage: 'm',
      ErrDetail: 'd',
      ErrHint: 'h',
      InternalQuery: 'q',
      ErrContext: 'c',
      FileErrPos: 'f, f.c:1',
      UserQuery: 's',
    });
    expect(msgs(record, { severity: ERROR })).toEqual([
      '[BLUE] [5-1] sql_error_code = 42P01 ERROR:  m',
      '[BLUE] [5-2] sql_error_code = 42P01 DETAIL:  d',
      '[BLUE] [5-3] sql_error_code = 42P01 HINT:  h',
      '[BLUE] [5-4] sql_error_code = 42P01 QUERY:  q',
      '[BLUE] [5-5] sql_error_code = 42P01 CONTEXT:  c',
      '[BLUE] [5-6] sql_error_code = 42P01 LOCATION:  f, f.c:1',
      '[BLUE] [5-7] sql_error_code = 42P01 STATEMENT:  s',
    ]);
  });

  it('an empty field still prints its part; an empty FileErrPos does not', () => {
    expect(msgs(aRecord({ ErrDetail: '', FileErrPos: '' }))).toEqual([
      '[BLUE] [5-1] sql_error_code = 00000 LOG:  statement: select 1',
      '[BLUE] [5-2] sql_error_code = 00000 DETAIL:  ',
    ]);
  });

  it('a missing message prints as PostgreSQL does', () => {
    expect(msgs(aRecord({ ErrMessage: null }))).toEqual(['[BLUE] [5-1] sql_error_code = 00000 LOG:  missing error text']);
  });

  it('NAME is DATABASE for a serve without a name', () => {
    expect(msgs(aRecord(), { serve: serveNamed(undefined) })).toEqual(['[DATABASE] [5-1] sql_error_code = 00000 LOG:  statement: select 1']);
  });

  it('a null SQLState leaves the default prefix with nothing after the `=`', () => {
    expect(msgs(aRecord({ SQLState: null }))).toEqual(['[BLUE] [5-1] sql_error_code =  LOG:  statement: select 1']);
  });

  it('a prefix from the options', () => {
    const withPrefix = frameFormatter({ linePrefix: '%m [%p] %q%u@%d ' });
    expect(msgs(aRecord({ ErrDetail: 'd' }), {}, withPrefix)).toEqual([
      '[BLUE] [5-1] 2026-11-25 01:43:51.596 UTC [4517] alice@shop LOG:  statement: select 1',
      '[BLUE] [5-2] 2026-11-25 01:43:51.596 UTC [4517] alice@shop DETAIL:  d',
    ]);
    expect(msgs(aRecord({ UserName: null }), {}, withPrefix)).toEqual(['[BLUE] [5-1] 2026-11-25 01:43:51.596 UTC [4517] LOG:  statement: select 1']);
  });
});

describe('multi-line fields', () => {
  it('continuation lines carry no prefix and N counts over the whole record', () => {
    const record = aRecord({
      SQLState: '42601',
      ErrMessage: 'syntax error at or near "FORM"',
      UserQuery: 'SELECT a,\n       b\nFORM t;',
    });
    expect(msgs(record, { severity: ERROR })).toEqual([
      '[BLUE] [5-1] sql_error_code = 42601 ERROR:  syntax error at or near "FORM"',
      '[BLUE] [5-2] sql_error_code = 42601 STATEMENT:  SELECT a,',
      '[BLUE] [5-3]        b',
      '[BLUE] [5-4] FORM t;',
    ]);
  });

  it('a multi-line message, detail and context each split', () => {
    const record = aRecord({ ErrMessage: 'm1\nm2', ErrDetail: 'd1\nd2', ErrContext: 'c1\nc2' });
    expect(msgs(record).map(textOf)).toEqual([
      'sql_error_code = 00000 LOG:  m1',
      'm2',
      'sql_error_code = 00000 DETAIL:  d1',
      'd2',
      'sql_error_code = 00000 CONTEXT:  c1',
      'c2',
    ]);
  });

  it('\\r\\n breaks a line like \\n; a lone \\r is text', () => {
    expect(msgs(aRecord({ ErrMessage: 'statement: select 1\r\nfrom t\r\nwhere x\ry' })).map(textOf)).toEqual([
      'sql_error_code = 00000 LOG:  statement: select 1',
      'from t',
      'where x\ry',
    ]);
  });

  it('trailing newlines make no frames; empty lines inside stay', () => {
    expect(msgs(aRecord({ ErrMessage: 'statement: select 1\n\nfrom t\n\n', ErrDetail: 'd\r\n' })).map(textOf)).toEqual([
      'sql_error_code = 00000 LOG:  statement: select 1',
      '',
      'from t',
      'sql_error_code = 00000 DETAIL:  d',
    ]);
  });

  it('a field that is only newlines still prints its part line', () => {
    expect(msgs(aRecord({ ErrMessage: '\n\n' })).map(textOf)).toEqual(['sql_error_code = 00000 LOG:  ']);
  });

  it('the fixture-style escaped \\n (backslash, n) is not a newline', () => {
    expect(msgs(aRecord({ ErrMessage: "statement: select E'a\\nb'" }))).toHaveLength(1);
  });
});

describe('the frame cap', () => {
  // Mixed widths: 1-byte ASCII, 2-byte é, 3-byte ☃ and 日, 4-byte 😀 (a surrogate pair in JS).
  const UNIT = "select 'é☃日😀', x from t where y = 'ö'; ";

  function bigStatement(bytes: number): string {
    const unitBytes = Buffer.byteLength(UNIT);
    return UNIT.repeat(Math.ceil(bytes / unitBytes));
  }

  it('a 1 MB multibyte statement becomes a run of valid frames that reproduce it', () => {
    const statement = bigStatement(1024 * 1024);
    const record = aRecord({ SeqNum: 77, SQLState: '54000', ErrMessage: 'statement too large', UserQuery: statement });
    const frames = format(sourced(record, { severity: ERROR }));
    const parsed = frames.map(parseFrame); // throws on invalid UTF-8, i.e. a cut character

    expect(parsed.length).toBeGreaterThan(100);
    parsed.forEach((f, i) => {
      expect(f.length).toBe(f.bytes);
      expect(f.bytes).toBeLessThanOrEqual(MAX_FRAME_BYTES);
      expect(Buffer.byteLength(f.msg)).toBeLessThanOrEqual(10000);
      expect(f.msg.startsWith(`[BLUE] [77-${i + 1}] `)).toBe(true);
    });
    // Every statement frame but the last is full to within one character.
    for (const f of parsed.slice(1, -1)) expect(Buffer.byteLength(f.msg)).toBeGreaterThan(10000 - 4);

    expect(textOf(parsed[0]?.msg ?? '')).toBe('sql_error_code = 54000 ERROR:  statement too large');
    const head = 'sql_error_code = 54000 STATEMENT:  ';
    const texts = parsed.slice(1).map((f) => textOf(f.msg));
    expect(texts[0]?.startsWith(head)).toBe(true);
    // Later pieces repeat no prefix: concatenated, they are the statement byte for byte.
    expect(texts.join('').slice(head.length)).toBe(statement);
  });

  it('a cap landing inside a 4-byte character cuts before it', () => {
    const small = frameFormatter({ maxMessageBytes: 512 });
    const tag = '[BLUE] [5-1] ';
    const prefix = 'sql_error_code = 00000 LOG:  ';
    // Fill to 2 bytes short of the cap, then a 4-byte character that cannot fit.
    const filler = 'a'.repeat(512 - tag.length - prefix.length - 2);
    const out = msgs(aRecord({ ErrMessage: `${filler}😀tail` }), {}, small);
    expect(out).toEqual([`${tag}${prefix}${filler}`, '[BLUE] [5-2] 😀tail']);
  });

  it('a line exactly at the cap is one frame; one byte more is two', () => {
    const small = frameFormatter({ maxMessageBytes: 512 });
    const fixed = '[BLUE] [5-1] sql_error_code = 00000 LOG:  '.length;
    expect(msgs(aRecord({ ErrMessage: 'x'.repeat(512 - fixed) }), {}, small)).toHaveLength(1);
    expect(msgs(aRecord({ ErrMessage: 'x'.repeat(512 - fixed + 1) }), {}, small)).toEqual([
      `[BLUE] [5-1] sql_error_code = 00000 LOG:  ${'x'.repeat(512 - fixed)}`,
      '[BLUE] [5-2] x',
    ]);
  });

  it('N keeps counting across split lines and the lines after them, its digits included', () => {
    const small = frameFormatter({ maxMessageBytes: 512 });
    const out = msgs(aRecord({ ErrMessage: 'y'.repeat(5000), ErrDetail: 'd' }), {}, small);
    out.forEach((m, i) => {
      expect(m.startsWith(`[BLUE] [5-${i + 1}] `)).toBe(true);
      expect(Buffer.byteLength(m)).toBeLessThanOrEqual(512);
    });
    expect(out.length).toBeGreaterThanOrEqual(11); // so N reaches two digits
    expect(out[out.length - 1]).toBe(`[BLUE] [5-${out.length}] sql_error_code = 00000 DETAIL:  d`);
    expect(out.slice(0, -1).map(textOf).join('')).toBe(`sql_error_code = 00000 LOG:  ${'y'.repeat(5000)}`);
  });

  it('a multi-line statement with one long line: lines joined by \\n reproduce it', () => {
    const long = '日本語'.repeat(5000);
    const statement = `select 1,\n${long}\nfrom t`;
    const out = msgs(aRecord({ UserQuery: statement }));
    const stmt = out.slice(1).map(textOf);
    const head = 'sql_error_code = 00000 STATEMENT:  ';
    expect(stmt[0]).toBe(`${head}select 1,`);
    expect(stmt[stmt.length - 1]).toBe('from t');
    expect(stmt.slice(1, -1).join('')).toBe(long);
    expect([stmt[0]?.slice(head.length), stmt.slice(1, -1).join(''), 'from t'].join('\n')).toBe(statement);
  });

  it('a long token shrinks the message budget so the frame still fits 10240 bytes', () => {
    const longToken = `t.${'z'.repeat(1000)}`;
    const frames = format(sourced(aRecord({ ErrMessage: 'w'.repeat(30000) }), { serve: serveNamed('BLUE', longToken) }));
    for (const f of frames.map(parseFrame)) {
      expect(f.appName).toBe(longToken);
      expect(f.length).toBe(f.bytes);
      expect(f.bytes).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    }
    expect(parseFrame(frames[0] as Buffer).bytes).toBe(MAX_FRAME_BYTES); // full, not short
  });

  it('a pathological serve name is clipped so text still fits', () => {
    const name = 'é'.repeat(1000);
    const out = msgs(aRecord(), { serve: serveNamed(name) });
    expect(out).toHaveLength(1);
    const shown = /^\[([^\]]*)\]/.exec(out[0] ?? '')?.[1] ?? '';
    expect(Buffer.byteLength(shown)).toBe(MAX_NAME_BYTES);
    expect(out[0]?.endsWith('LOG:  statement: select 1')).toBe(true);
  });
});

describe('recordLines and taggedMessages directly', () => {
  it('recordLines gives the lines before tagging', () => {
    expect(recordLines(aRecord({ ErrMessage: 'a\nb', ErrHint: 'h' }), 'LOG', 'P ')).toEqual(['P LOG:  a', 'b', 'P HINT:  h']);
  });

  it('taggedMessages numbers lines from 1', () => {
    expect(taggedMessages(['x', 'y'], 'N', 12, 10000)).toEqual(['[N] [12-1] x', '[N] [12-2] y']);
    expect(taggedMessages([], 'N', 12, 10000)).toEqual([]);
  });

  it('the token never appears in MSG', () => {
    for (const m of msgs(aRecord({ ErrDetail: 'd', UserQuery: 's' }))) expect(m).not.toContain(TOKEN);
  });
});
