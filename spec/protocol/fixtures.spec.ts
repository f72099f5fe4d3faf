// The decoder against what a real PostgreSQL 15.20 sent, cut every way a socket could cut it.
import { encodeIdentity, encodeRecord, encodeVersion } from '../../src/protocol/encode';
import { LogfebeDecoder } from '../../src/protocol/decoder';
import type { RecordMessage } from '../../src/protocol/messages';
import { fixtureRecords, loadFixture, loadFixtures } from '../support/fixtures';
import { asFixtureMessage, byteByByte, cutAt, decodeChunks, fullRecord, sameDecoding } from './streams';

const fixtures = loadFixtures().map((f) => [f.name, f] as const);

describe('decoding the pg15 captures', () => {
  it('has captures to decode', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(10);
  });

  it.each(fixtures)('%s decodes to its JSON twin in one chunk', (_name, fixture) => {
    expect(decodeChunks([fixture.bytes]).map(asFixtureMessage)).toEqual(fixture.messages);
  });

  it.each(fixtures)('%s decodes the same when cut in two at every offset', (_name, fixture) => {
    const whole = decodeChunks([fixture.bytes]);
    expect(whole.map(asFixtureMessage)).toEqual(fixture.messages);
    for (let cut = 1; cut < fixture.bytes.length; cut++) {
      const decoded = decodeChunks(cutAt(fixture.bytes, [cut]));
      if (!sameDecoding(decoded, whole)) {
        // One readable failure naming the offset, instead of one assertion per offset.
        expect({ cut, decoded: decoded.map(asFixtureMessage) }).toEqual({ cut, decoded: fixture.messages });
      }
    }
  });

  it.each(fixtures)('%s decodes the same one byte at a time', (_name, fixture) => {
    expect(decodeChunks(byteByByte(fixture.bytes)).map(asFixtureMessage)).toEqual(fixture.messages);
  });

  it('emits each message at the chunk that completes it, not before', () => {
    const fixture = loadFixture('12-division-by-zero');
    const decoder = new LogfebeDecoder();
    const counts = byteByByte(fixture.bytes).map((b) => decoder.push(b).length);
    // One message per completing byte: as many non-empty pushes as messages, each of exactly one.
    expect(counts.filter((n) => n > 0)).toEqual(fixture.messages.map(() => 1));
    expect(counts[counts.length - 1]).toBe(1);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('reads the Debian version string: server version and major', () => {
    const [first] = decodeChunks([loadFixture('12-division-by-zero').bytes]);
    expect(first).toEqual({
      type: 'V',
      version: 'PG-15.20 (Debian 15.20-0+deb12u1)/logfebe-1',
      serverVersion: '15.20 (Debian 15.20-0+deb12u1)',
      major: 15,
    });
  });

  it('resolves severities with the PostgreSQL 15 table', () => {
    const records = loadFixtures()
      .flatMap((f) => decodeChunks([f.bytes]))
      .filter((m): m is RecordMessage => m.type === 'L');
    const byLevel = new Map(records.map((m) => [m.record.ELevel, m.severity]));
    expect(byLevel.get(15)).toEqual({ name: 'LOG', label: 'LOG' });
    expect(byLevel.get(21)).toEqual({ name: 'ERROR', label: 'ERROR' });
    expect(byLevel.get(18)).toEqual({ name: 'NOTICE', label: 'NOTICE' });
    expect(byLevel.get(19)).toEqual({ name: 'WARNING', label: 'WARNING' });
    expect(byLevel.get(22)).toEqual({ name: 'FATAL', label: 'FATAL' });
  });

  it('resolves the same ELevel numbers with the pre-14 table when V says 13 or 9.4', () => {
    const levels = [15, 19, 20, 21, 22];
    for (const version of ['PG-13.16/logfebe-1', 'PG-9.4.26/logfebe-1']) {
      const stream = Buffer.concat([
        encodeVersion(version),
        encodeIdentity('old'),
        ...levels.map((ELevel) => encodeRecord({ ...fullRecord, ELevel })),
      ]);
      const names = decodeChunks([stream]).flatMap((m) => (m.type === 'L' ? [m.severity.name] : []));
      expect(names).toEqual(['LOG', 'WARNING', 'ERROR', 'FATAL', 'PANIC']);
    }
  });

  it('round-trips every fixture record through the encoder', () => {
    const records = fixtureRecords();
    const stream = Buffer.concat([encodeVersion('PG-15.20/logfebe-1'), encodeIdentity(''), ...records.map(encodeRecord)]);
    const decoded = decodeChunks([stream]).flatMap((m) => (m.type === 'L' ? [m.record] : []));
    expect(decoded).toEqual(records);
  });
});
