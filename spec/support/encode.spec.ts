// The encoder must reproduce the real captures byte for byte, or tests built on it prove nothing.
import { encodeIdentity, encodeRecord, encodeVersion } from '../../src/protocol/encode';
import { loadFixtures } from './fixtures';

/** The bytes real pg_logfebe sent after the identity's NUL: whatever lay in the server's memory. */
function identityTail(capture: Buffer): Buffer {
  const iAt = 1 + capture.readInt32BE(1); // V's type byte, then V's length counts the rest of V
  const end = iAt + 1 + capture.readInt32BE(iAt + 1);
  return capture.subarray(capture.indexOf(0, iAt + 5) + 1, end);
}

describe('encode (the pg_logfebe side)', () => {
  it('every capture has the 3 bytes pg_logfebe copies past the identity, not always NUL', () => {
    const tails = loadFixtures().map((f) => identityTail(f.bytes));
    expect(tails.every((t) => t.length === 3)).toBe(true);
    expect(tails.some((t) => t.some((b) => b !== 0))).toBe(true);
  });

  it.each(loadFixtures().map((f) => [f.name, f] as const))('re-encodes %s byte for byte', (_name, fixture) => {
    const parts = fixture.messages.map((m) => {
      switch (m.type) {
        case 'V':
          return encodeVersion(m.version);
        case 'I':
          return encodeIdentity(m.identity, { padding: identityTail(fixture.bytes) });
        case 'L': {
          const { type: _type, ...record } = m;
          return encodeRecord(record);
        }
      }
    });
    expect(Buffer.concat(parts).equals(fixture.bytes)).toBe(true);
  });
});
