// The frame itself: header fields, octet count = byte length, and the in-band L10 notices.
import { createFormatter, DEFAULT_FORMAT_OPTIONS, formatNotice, formatRecord, l10Text, resolveFormatOptions } from '../../src/format';
import { frameHeader, octetFrame } from '../../src/format/frame';
import { parseLogplexBody } from '../../src/tools/logplexBody';
import { aRecord, frameFormatter, parseFrame, RECEIVED_AT_TEXT, serveNamed, sourced, TOKEN } from './records';

describe('octetFrame', () => {
  it('the length prefix counts bytes, not characters', () => {
    const frame = octetFrame('<134>1 T H A P - - ', 'ö☃😀');
    const text = frame.toString('utf8');
    // 19 header bytes + 2 + 3 + 4 = 28 bytes, though only 23 UTF-16 code units.
    expect(text).toBe('28 <134>1 T H A P - - ö☃😀');
    expect(frame.length).toBe('28 '.length + 28);
  });

  it('an empty message still has the header', () => {
    expect(octetFrame(frameHeader(134, 'T', 'h', 'a', 'p'), '').toString()).toBe('19 <134>1 T h a p - - ');
  });
});

describe('record frames', () => {
  it('the example frame of logplex-input.md', () => {
    const frame = frameFormatter()(sourced(aRecord({ SeqNum: 3 }), { serve: serveNamed(undefined) }))[0] as Buffer;
    const syslog = `<134>1 2026-11-25T01:43:51.596000+00:00 postgres ${TOKEN} postgres.4517 - - [DATABASE] [3-1] sql_error_code = 00000 LOG:  statement: select 1`;
    expect(frame.toString('utf8')).toBe(`${Buffer.byteLength(syslog)} ${syslog}`);
  });

  it('hostname from the options, token as APP-NAME, PROCID postgres.<Pid>', () => {
    const frame = frameFormatter({ hostname: 'db-7' })(sourced(aRecord({ Pid: 99 }), { serve: serveNamed('X', 't.other') }))[0] as Buffer;
    const f = parseFrame(frame);
    expect([f.hostname, f.appName, f.procId]).toEqual(['db-7', 't.other', 'postgres.99']);
  });

  it('an ambiguous zone takes receivedAt as the timestamp', () => {
    const frame = frameFormatter()(sourced(aRecord({ LogTime: '2026-11-25 02:43:51.596 CET' })))[0] as Buffer;
    expect(parseFrame(frame).timestamp).toBe(RECEIVED_AT_TEXT);
  });

  it('a multibyte record: every octet count equals its byte length, and logplex parses the body', () => {
    const frames = frameFormatter()(sourced(aRecord({ ErrMessage: 'héllo ☃ 日本語 😀', ErrDetail: 'ö\nü' })));
    for (const frame of frames) {
      const f = parseFrame(frame);
      expect(f.length).toBe(f.bytes);
    }
    expect(parseLogplexBody(Buffer.concat(frames)).map((f) => f.msg)).toEqual([
      '[BLUE] [5-1] sql_error_code = 00000 LOG:  héllo ☃ 日本語 😀',
      '[BLUE] [5-2] sql_error_code = 00000 DETAIL:  ö',
      '[BLUE] [5-3] ü',
    ]);
  });

  it('formatRecord and createFormatter agree, and formatRecord compiles each options object once', () => {
    const options = resolveFormatOptions({ linePrefix: '%u ' });
    const rec = sourced(aRecord({ ErrDetail: 'd' }));
    expect(formatRecord(rec, options)).toEqual(createFormatter(options)(rec));
    expect(formatRecord(rec, options)).toEqual(formatRecord(rec, options));
  });

  it('formatRecord refuses invalid options', () => {
    expect(() => formatRecord(sourced(aRecord()), { ...DEFAULT_FORMAT_OPTIONS, linePrefix: '%U' })).toThrow(/unknown escape %U/);
  });
});

describe('L10 notices', () => {
  const since = new Date(Date.UTC(2026, 10, 25, 1, 43, 51, 596));

  it('l10Text: the exact texts of logplex-input.md', () => {
    expect(l10Text('dropped', 120, since)).toBe('Error L10 (output buffer overflow): 120 messages dropped since 2026-11-25T01:43:51+00:00.');
    expect(l10Text('lost', 7, since)).toBe('Error L10 (output buffer overflow): 7 messages lost since 2026-11-25T01:43:51+00:00.');
  });

  it('formatNotice: warning on our facility, the token, our PROCID, the text as MSG without a tag', () => {
    const at = new Date(Date.UTC(2026, 10, 25, 1, 44, 0, 12));
    const frame = formatNotice(serveNamed('BLUE'), l10Text('dropped', 120, since), at, DEFAULT_FORMAT_OPTIONS);
    const syslog = `<132>1 2026-11-25T01:44:00.012000+00:00 postgres ${TOKEN} postgres.collector - - Error L10 (output buffer overflow): 120 messages dropped since 2026-11-25T01:43:51+00:00.`;
    expect(frame.toString('utf8')).toBe(`${Buffer.byteLength(syslog)} ${syslog}`);
    expect(parseLogplexBody(frame)).toHaveLength(1);
  });

  it('formatNotice follows facility, hostname and noticeProcId', () => {
    const options = resolveFormatOptions({ facility: 21, hostname: 'h', noticeProcId: 'collector' });
    const f = parseFrame(formatNotice(serveNamed(undefined), l10Text('lost', 1, since), since, options));
    expect([f.pri, f.hostname, f.procId]).toEqual([21 * 8 + 4, 'h', 'collector']);
  });

  it('formatNotice refuses a multi-line or oversized text', () => {
    expect(() => formatNotice(serveNamed('B'), 'a\nb', since, DEFAULT_FORMAT_OPTIONS)).toThrow(RangeError);
    expect(() => formatNotice(serveNamed('B'), 'x'.repeat(10001), since, DEFAULT_FORMAT_OPTIONS)).toThrow(RangeError);
  });
});
