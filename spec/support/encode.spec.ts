// The encoder must reproduce the real captures byte for byte, or tests built on it prove nothing.
import { encodeIdentity, encodeRecord, encodeVersion } from '../../src/protocol/encode';
import { loadFixtures } from './fixtures';

describe('encode (the pg_logfebe side)', () => {
  it.each(loadFixtures().map((f) => [f.name, f] as const))('re-encodes %s byte for byte', (_name, fixture) => {
    const parts = fixture.messages.map((m) => {
      switch (m.type) {
        case 'V':
          return encodeVersion(m.version);
        case 'I':
          return encodeIdentity(m.identity);
        case 'L': {
          const { type: _type, ...record } = m;
          return encodeRecord(record);
        }
      }
    });
    expect(Buffer.concat(parts).equals(fixture.bytes)).toBe(true);
  });
});
