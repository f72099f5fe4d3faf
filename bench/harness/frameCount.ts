// How many frames the collector makes of a synthetic record, by running the record through the
// real decoder and formatter. The collector counts drops in frames; the stand-in misses records:
// this is the bridge that lets the two be compared exactly.
import { LogfebeDecoder } from '../../src/protocol/decoder';
import { encodeIdentity, encodeRecord, encodeVersion } from '../../src/protocol/encode';
import { Secret } from '../../src/secret';
import type { Serve } from '../../src/servedb/serve';
import { createFormatter } from '../../src/format';
import { DEFAULT_EMULATOR_OPTIONS, syntheticRecord } from '../../src/tools/logfebeEmulator';

/** `(backend, seq) → frames`, for records as syntheticRecord makes them, on a serve named `serveName`. */
export function frameCounterFor(serveName: string): (backend: number, seq: number) => number {
  const decoder = new LogfebeDecoder();
  decoder.push(Buffer.concat([encodeVersion(DEFAULT_EMULATOR_OPTIONS.version), encodeIdentity('bench')]));
  const format = createFormatter();
  const serve: Serve = {
    identity: 'bench',
    socketPath: '/bench.sock',
    name: serveName,
    target: { url: 'http://127.0.0.1/logs', user: 'token', token: new Secret('t.bench') },
  };
  return (backend, seq) => {
    const [message] = decoder.push(encodeRecord(syntheticRecord(backend, seq)));
    if (message === undefined || message.type !== 'L') throw new Error('frameCount: the decoder did not return a record');
    return format({ serve, message, receivedAt: Date.now() }).frames;
  };
}
