// The syslog TIMESTAMP: LogTime in UTC when its zone is unambiguous, else receivedAt.
import { syslogTimestamp } from '../../src/format';
import { formatUtcMicros, formatUtcSeconds, logTimeUtc } from '../../src/format/timestamp';
import { RECEIVED_AT, RECEIVED_AT_TEXT } from './records';

describe('syslogTimestamp', () => {
  it.each([
    ['2026-11-25 01:43:51.596 UTC', '2026-11-25T01:43:51.596000+00:00'],
    ['2026-11-25 01:43:51.596 GMT', '2026-11-25T01:43:51.596000+00:00'],
    ['2026-11-25 01:43:51.596 Z', '2026-11-25T01:43:51.596000+00:00'],
    ['2026-11-25 01:43:51.000 UTC', '2026-11-25T01:43:51.000000+00:00'],
  ])('UTC-like zone: %s → %s', (logTime, expected) => {
    expect(syslogTimestamp(logTime, RECEIVED_AT)).toBe(expected);
  });

  it.each([
    ['2026-11-25 04:43:51.596 +03', '2026-11-25T01:43:51.596000+00:00'],
    ['2026-11-24 22:13:51.596 -0330', '2026-11-25T01:43:51.596000+00:00'],
    ['2026-11-25 07:13:51.596 +05:30', '2026-11-25T01:43:51.596000+00:00'],
    ['2026-11-25 07:13:51.596 +0530', '2026-11-25T01:43:51.596000+00:00'],
    ['2026-11-25 01:43:51.596 +00', '2026-11-25T01:43:51.596000+00:00'],
    ['2026-11-25 01:43:51.596 -00', '2026-11-25T01:43:51.596000+00:00'],
    // Crossing midnight, a month and a year backwards and forwards.
    ['2027-01-01 02:00:00.001 +03', '2026-12-31T23:00:00.001000+00:00'],
    ['2026-12-31 20:30:00.999 -05', '2027-01-01T01:30:00.999000+00:00'],
    ['2028-03-01 01:00:00.500 +02', '2028-02-29T23:00:00.500000+00:00'], // leap day
  ])('numeric offset: %s → %s', (logTime, expected) => {
    expect(syslogTimestamp(logTime, RECEIVED_AT)).toBe(expected);
  });

  it.each([
    '2026-11-25 02:43:51.596 CET',
    '2026-11-24 17:43:51.596 PST',
    '2026-11-25 07:13:51.596 IST', // India, Israel or Ireland
    '2026-11-25 01:43:51.596 EST5EDT',
    '2026-11-25 01:43:51.596 +3', // not how PostgreSQL writes an offset
    '2026-11-25 01:43:51.596 +24',
    '2026-11-25 01:43:51.596 +03:60',
  ])('ambiguous or unknown zone falls back to receivedAt: %s', (logTime) => {
    expect(syslogTimestamp(logTime, RECEIVED_AT)).toBe(RECEIVED_AT_TEXT);
  });

  it.each([
    '',
    'yesterday',
    '2026-11-25 01:43:51 UTC', // no milliseconds
    '2026-11-25 01:43:51.5x6 UTC',
    '2026-11-25T01:43:51.596 UTC',
    '2026-11-25 01:43:51.596',
    '2026-11-25 01:43:51.596 ',
    '2026-02-30 01:43:51.596 UTC', // no such day
    '2026-13-25 01:43:51.596 UTC',
    '2026-11-25 24:00:00.000 UTC',
    '0099-11-25 01:43:51.596 UTC',
  ])('malformed LogTime falls back to receivedAt: %j', (logTime) => {
    expect(syslogTimestamp(logTime, RECEIVED_AT)).toBe(RECEIVED_AT_TEXT);
  });

  it('the cache per second keeps the milliseconds of each record', () => {
    expect(syslogTimestamp('2026-11-25 04:43:51.001 +03', RECEIVED_AT)).toBe('2026-11-25T01:43:51.001000+00:00');
    expect(syslogTimestamp('2026-11-25 04:43:51.002 +03', RECEIVED_AT)).toBe('2026-11-25T01:43:51.002000+00:00');
    // Same second and digits, other zone: a different instant, not a cache hit.
    expect(syslogTimestamp('2026-11-25 04:43:51.002 +04', RECEIVED_AT)).toBe('2026-11-25T00:43:51.002000+00:00');
    expect(syslogTimestamp('2026-11-25 04:43:51.002 CET', RECEIVED_AT)).toBe(RECEIVED_AT_TEXT);
  });

  it('the last-second memo tells apart zones, zone lengths and malformed dates of the same second', () => {
    const seq: [string, string][] = [
      ['2026-11-25 01:43:51.001 UTC', '2026-11-25T01:43:51.001000+00:00'],
      ['2026-11-25 01:43:51.002 UTC', '2026-11-25T01:43:51.002000+00:00'], // memo hit
      ['2026-11-25 01:43:51.003 +01', '2026-11-25T00:43:51.003000+00:00'], // same second, an offset
      ['2026-11-25 01:43:51.004 +0100', '2026-11-25T00:43:51.004000+00:00'], // a longer zone, same start
      ['2026-11-25 01:43:51.005 +01', '2026-11-25T00:43:51.005000+00:00'],
      ['2026-11-25 01:43:51.006 GMT', '2026-11-25T01:43:51.006000+00:00'],
      ['2026-11-25 01:43:51.007 CET', RECEIVED_AT_TEXT], // ambiguous: a null answer, remembered
      ['2026-11-25 01:43:51.008 CET', RECEIVED_AT_TEXT],
      ['2026-11-25 01:43:51.009 UTC', '2026-11-25T01:43:51.009000+00:00'],
      ['2026-02-30 01:43:51.010 UTC', RECEIVED_AT_TEXT], // no such day
      ['2026-02-30 01:43:51.011 UTC', RECEIVED_AT_TEXT],
      ['2026-11-25 01:43:51.01x UTC', RECEIVED_AT_TEXT], // malformed milliseconds, same second
      ['2026-11-25 01:43:51.012 UTCX', RECEIVED_AT_TEXT], // zone with the memo's zone as a prefix
      ['2026-11-25 01:43:52.013 UTC', '2026-11-25T01:43:52.013000+00:00'],
    ];
    for (const [logTime, expected] of seq) expect([logTime, syslogTimestamp(logTime, RECEIVED_AT)]).toEqual([logTime, expected]);
  });

  it('stays right after more distinct seconds than the cache holds', () => {
    const base = Date.UTC(2026, 10, 25, 0, 0, 0);
    for (let s = 0; s < 3000; s++) {
      const at = new Date(base + s * 1000 + 7);
      const logTime = `${at.toISOString().slice(0, 10)} ${at.toISOString().slice(11, 23)} UTC`;
      expect(logTimeUtc(logTime)).toBe(`${at.toISOString().slice(0, 23)}000+00:00`);
    }
  });
});

describe('formatting helpers', () => {
  it('formatUtcMicros', () => {
    expect(formatUtcMicros(RECEIVED_AT)).toBe(RECEIVED_AT_TEXT);
    expect(formatUtcMicros(Date.UTC(2026, 10, 25, 1, 43, 51, 5))).toBe('2026-11-25T01:43:51.005000+00:00');
  });

  it('formatUtcSeconds drops the fraction', () => {
    expect(formatUtcSeconds(new Date(Date.UTC(2026, 10, 25, 1, 43, 51, 999)))).toBe('2026-11-25T01:43:51+00:00');
  });
});
