import {
  LogplexBodyError,
  MAX_FRAME_BYTES,
  countLogplexFrames,
  encodeLogplexFrame,
  parseLogplexBody,
} from '../../src/tools/logplexBody';

const TOKEN = 't.6f1c2d3e-0000-4000-8000-000000000001';
const line = (msg: string, pri = 134): string =>
  `<${pri}>1 2026-11-25T01:43:51.596000+00:00 postgres ${TOKEN} postgres.4517 - - ${msg}`;

function expectCode(body: Buffer, code: string, frameIndex?: number): void {
  let caught: unknown;
  try {
    parseLogplexBody(body);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(LogplexBodyError);
  expect((caught as LogplexBodyError).code).toBe(code);
  if (frameIndex !== undefined) expect((caught as LogplexBodyError).frameIndex).toBe(frameIndex);
  // The counting scan must reject exactly what the parser rejects.
  expect(() => countLogplexFrames(body)).toThrow(LogplexBodyError);
}

describe('parseLogplexBody', () => {
  it('reads frames back to back, with lengths in bytes of multibyte UTF-8', () => {
    const msgs = [
      '[BLUE] [5-1] sql_error_code = 23505 ERROR:  duplicate key value violates unique constraint "t_pkey"',
      '[BLUE] [6-1] sql_error_code = 00000 LOG:  statement: select \'héllo wörld ✓ 日本語 🐘\'',
      '[BLUE] [6-2] ',
    ];
    const text = [line(msgs[0] as string, 132), line(msgs[1] as string), line(msgs[2] as string)]
      .map(encodeLogplexFrame)
      .join('');
    const body = Buffer.from(text, 'utf8');
    // The multibyte message's byte length differs from its UTF-16 length, so a parser counting
    // characters would misplace the third frame.
    expect(Buffer.byteLength(line(msgs[1] as string))).not.toBe(line(msgs[1] as string).length);

    const frames = parseLogplexBody(body);
    expect(frames).toHaveLength(3);
    expect(frames[0]).toEqual({
      pri: 132,
      timestamp: '2026-11-25T01:43:51.596000+00:00',
      hostname: 'postgres',
      appName: TOKEN,
      procId: 'postgres.4517',
      msgId: '-',
      sd: '-',
      msg: msgs[0],
      bytes: Buffer.byteLength(line(msgs[0] as string)),
    });
    expect(frames.map((f) => f.msg)).toEqual(msgs);
    expect(frames[1]?.bytes).toBe(Buffer.byteLength(line(msgs[1] as string)));
    expect(countLogplexFrames(body)).toBe(3);
  });

  it('reads an empty body as no frames', () => {
    expect(parseLogplexBody(Buffer.alloc(0))).toEqual([]);
  });

  it('accepts structured data with spaces in quoted values, and an absent MSG', () => {
    const withSd = '<134>1 2026-11-25T01:43:51.596000+00:00 h app p.1 - [x@1 a="b c\\"]"] hello there';
    const noMsg = '<134>1 2026-11-25T01:43:51.596000+00:00 h app p.1 - -';
    const frames = parseLogplexBody(Buffer.from(encodeLogplexFrame(withSd) + encodeLogplexFrame(noMsg)));
    expect(frames[0]?.sd).toBe('[x@1 a="b c\\"]"]');
    expect(frames[0]?.msg).toBe('hello there');
    expect(frames[1]?.sd).toBe('-');
    expect(frames[1]?.msg).toBe('');
  });

  it('accepts a frame of exactly the cap', () => {
    const head = line('');
    const msg = 'x'.repeat(MAX_FRAME_BYTES - Buffer.byteLength(head));
    const frames = parseLogplexBody(Buffer.from(encodeLogplexFrame(line(msg))));
    expect(frames[0]?.bytes).toBe(MAX_FRAME_BYTES);
  });

  describe('malformed bodies', () => {
    const good = encodeLogplexFrame(line('ok'));

    it('a length prefix that is not digits', () => {
      expectCode(Buffer.from(`${good}12a <134>1 x`), 'LOGPLEX_BAD_LENGTH', 1);
      expectCode(Buffer.from(` ${good}`), 'LOGPLEX_BAD_LENGTH', 0);
      expectCode(Buffer.from(`${good}\n`), 'LOGPLEX_BAD_LENGTH', 1);
    });

    it('a length counted in characters instead of bytes (truncated or misaligned)', () => {
      const m = line('naïve ✓');
      expectCode(Buffer.from(`${m.length} ${m}`), 'LOGPLEX_BAD_LENGTH', 1);
      expectCode(Buffer.from(`${m.length + 40} ${m}`), 'LOGPLEX_TRUNCATED', 0);
    });

    it('a truncated frame', () => {
      const full = Buffer.from(good + good);
      expectCode(full.subarray(0, full.length - 1), 'LOGPLEX_TRUNCATED', 1);
      expectCode(Buffer.from(`${good}123`), 'LOGPLEX_TRUNCATED', 1);
    });

    it('a frame over 10240 bytes', () => {
      const msg = 'x'.repeat(MAX_FRAME_BYTES + 1 - Buffer.byteLength(line('')));
      expectCode(Buffer.from(encodeLogplexFrame(line(msg))), 'LOGPLEX_FRAME_TOO_LARGE', 0);
      expectCode(Buffer.from('99999999 x'), 'LOGPLEX_BAD_LENGTH', 0);
    });

    it('missing syslog fields or a bad header', () => {
      const cases = [
        '<134>1 2026-11-25T01:43:51.596000+00:00 postgres app postgres.1 -',
        '<134>1 2026-11-25T01:43:51.596000+00:00 postgres',
        '<134>1 ',
        '<134>1',
        '134>1 2026-11-25T01:43:51.596000+00:00 h a p - - m',
        '<1345>1 2026-11-25T01:43:51.596000+00:00 h a p - - m',
        '<192>1 2026-11-25T01:43:51.596000+00:00 h a p - - m',
        '<134>2 2026-11-25T01:43:51.596000+00:00 h a p - - m',
        '<134>1 2026-11-25T01:43:51.596000+00:00  a p - - m',
        '<134>1 2026-11-25T01:43:51.596000+00:00 h a p - [unterminated m',
      ];
      for (const c of cases) expectCode(Buffer.from(good + encodeLogplexFrame(c)), 'LOGPLEX_BAD_SYSLOG', 1);
    });

    it('a zero-length frame', () => {
      expectCode(Buffer.from('0 '), 'LOGPLEX_BAD_LENGTH', 0);
    });

    it('names the code, frame and offset in the message', () => {
      expect(() => parseLogplexBody(Buffer.from(`${good}x`))).toThrow(
        new RegExp(`LOGPLEX_BAD_LENGTH: frame 1 at byte ${Buffer.byteLength(good)}`),
      );
    });
  });
});
