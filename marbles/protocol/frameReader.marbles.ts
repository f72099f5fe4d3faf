// FrameReader's timing, the framing under every connection's decoder: whole frames at the chunk
// that completes them; type, length and cap refused at the header; message order left to the
// decoder.
import { TestScheduler } from 'rxjs/testing';
import { frameTypeName, type Frame } from '../../src/protocol/deframe';
import { framedByFrameReader as deframe } from './asOperator';
import { encodeIdentity, encodeRaw, encodeRecord, encodeVersion } from '../../src/protocol/encode';
import type { ProtocolErrorCode } from '../../src/protocol/errors';
import { fullRecord } from '../../spec/protocol/streams';

// Jest's toEqual compares errors by message only; the code is part of the contract too.
const protocolError = (code: ProtocolErrorCode, message: string): unknown =>
  expect.objectContaining({ name: 'ProtocolError', code, message: `logfebe: ${message}` });

const V = encodeVersion('PG-15.20/logfebe-1');
const I = encodeIdentity('marbles');
const L = encodeRecord(fullRecord);

const frame = (bytes: Buffer): Frame => ({ type: frameTypeName(bytes[0] ?? 0), payload: bytes.subarray(5) });
const out = { v: frame(V), i: frame(I), l: frame(L) };

describe('FrameReader (marbles)', () => {
  let testScheduler: TestScheduler;
  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  });

  it('emits frames in order, all of one chunk together, and passes completion through', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const chunk$ = cold('-a------|', { a: Buffer.concat([V, I, L]) });
      expectObservable(chunk$.pipe(deframe())).toBe('-(vil)--|', out);
    });
  });

  it('emits a frame cut inside its header and its payload once, when its last byte arrives', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const chunk$ = cold('-a-b-c-|', { a: L.subarray(0, 2), b: L.subarray(2, 40), c: L.subarray(40) });
      expectObservable(chunk$.pipe(deframe())).toBe('-----l-|', out);
    });
  });

  it('does not judge order: an L first is a frame like any other', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      expectObservable(cold('-a-|', { a: L }).pipe(deframe())).toBe('-l-|', out);
    });
  });

  it('errors at the header of an oversized frame, before its payload', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const chunk$ = cold('-a-b-|', { a: L.subarray(0, 5), b: L.subarray(5) });
      const tooLarge = protocolError('LOGFEBE_TOO_LARGE', `L message of ${L.length - 1} bytes exceeds the 64-byte cap`);
      expectObservable(chunk$.pipe(deframe({ maxMessageBytes: 64 }))).toBe('-#', out, tooLarge);
    });
  });

  it('emits the frames before an unknown type byte, then errors in the same frame', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const chunk$ = cold('-a-|', { a: Buffer.concat([V, encodeRaw('Q', Buffer.alloc(3))]) });
      const unknown = protocolError('LOGFEBE_UNKNOWN_TYPE', "message type 'Q' (0x51) is not V, I or L");
      expectObservable(chunk$.pipe(deframe())).toBe('-(v#)', out, unknown);
    });
  });

  it('errors at completion inside a frame', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const chunk$ = cold('-a-|', { a: V.subarray(0, 7) });
      const truncated = protocolError('LOGFEBE_TRUNCATED_MESSAGE', `stream ended inside a V message (7 of its ${V.length} bytes received)`);
      expectObservable(chunk$.pipe(deframe())).toBe('---#', out, truncated);
    });
  });
});
