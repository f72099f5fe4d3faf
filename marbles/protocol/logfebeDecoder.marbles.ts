// LogfebeDecoder's timing, pushed chunk by chunk as the source pushes socket reads: each message
// comes out at the chunk that completes it, errors at the chunk that shows the violation, and
// completion passes through.
import { TestScheduler } from 'rxjs/testing';
import { decodedByLogfebeDecoder as decodeLogfebe } from './asOperator';
import { encodeIdentity, encodeRaw, encodeRecord, encodeVersion } from '../../src/protocol/encode';
import type { ProtocolErrorCode } from '../../src/protocol/errors';
import type { LogfebeMessage, LogRecord } from '../../src/protocol/messages';
import { fullRecord } from '../../spec/protocol/streams';

// Jest's toEqual compares errors by message only; the code is part of the contract too.
const protocolError = (code: ProtocolErrorCode, message: string): unknown =>
  expect.objectContaining({ name: 'ProtocolError', code, message: `logfebe: ${message}` });

const second: LogRecord = { ...fullRecord, SeqNum: 4, ELevel: 15, SQLState: '00000', ErrMessage: 'statement: select 1;' };
const third: LogRecord = { ...fullRecord, SeqNum: 5, ELevel: 19, SQLState: '01000', ErrMessage: 'careful' };

const bytes = {
  preamble: Buffer.concat([encodeVersion('PG-15.20/logfebe-1'), encodeIdentity('marbles')]),
  record: encodeRecord(fullRecord),
  records: Buffer.concat([encodeRecord(fullRecord), encodeRecord(second), encodeRecord(third)]),
  unknownType: encodeRaw('X', Buffer.alloc(0)),
};

// What comes out, by marble letter.
const out: Record<string, LogfebeMessage> = {
  v: { type: 'V', version: 'PG-15.20/logfebe-1', serverVersion: '15.20', major: 15 },
  i: { type: 'I', identity: 'marbles' },
  r: { type: 'L', record: fullRecord, severity: { name: 'ERROR', label: 'ERROR' }, ascii: true },
  s: { type: 'L', record: second, severity: { name: 'LOG', label: 'LOG' }, ascii: true },
  t: { type: 'L', record: third, severity: { name: 'WARNING', label: 'WARNING' }, ascii: true },
};

const unknownTypeError = protocolError('LOGFEBE_UNKNOWN_TYPE', "message type 'X' (0x58) is not V, I or L");

describe('LogfebeDecoder (marbles)', () => {
  let testScheduler: TestScheduler;
  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  });

  it('passes completion through after the messages', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const chunk$ = cold('-a-----b-|', { a: bytes.preamble, b: bytes.record });
      expectObservable(chunk$.pipe(decodeLogfebe())).toBe('-(vi)--r-|', out);
    });
  });

  it('passes completion through for a connection that sent nothing', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      expectObservable(cold<Buffer>('---|').pipe(decodeLogfebe())).toBe('---|');
    });
  });

  it('emits a record split over three chunks once, at the chunk that completes it', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const chunk$ = cold('-a----b-c-d-|', {
        a: bytes.preamble,
        b: bytes.record.subarray(0, 3), // inside the header
        c: bytes.record.subarray(3, 60),
        d: bytes.record.subarray(60),
      });
      expectObservable(chunk$.pipe(decodeLogfebe())).toBe('-(vi)-----r-|', out);
    });
  });

  it('emits every message of one chunk together, in order', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const chunk$ = cold('-a--------|', { a: Buffer.concat([bytes.preamble, bytes.records]) });
      expectObservable(chunk$.pipe(decodeLogfebe())).toBe('-(virst)--|', out);
    });
  });

  it('emits the tail of one record and the whole of the next from the same chunk', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const chunk$ = cold('-a----b--c-----|', {
        a: bytes.preamble,
        b: bytes.records.subarray(0, 100),
        c: bytes.records.subarray(100),
      });
      expectObservable(chunk$.pipe(decodeLogfebe())).toBe('-(vi)----(rst)-|', out);
    });
  });

  it('turns a violation into an error notification at its chunk and unsubscribes from the socket', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const chunk$ = cold('-a----b--c-|', { a: bytes.preamble, b: bytes.unknownType, c: bytes.record });
      expectObservable(chunk$.pipe(decodeLogfebe())).toBe('-(vi)-#', out, unknownTypeError);
      expectSubscriptions(chunk$.subscriptions).toBe('^-----!');
    });
  });

  it('emits the records a chunk completed before its violation, then errors in the same frame', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const chunk$ = cold('-a--|', { a: Buffer.concat([bytes.preamble, bytes.record, bytes.unknownType]) });
      expectObservable(chunk$.pipe(decodeLogfebe())).toBe('-(vir#)', out, unknownTypeError);
    });
  });

  it('errors on misorder as soon as the header arrives', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const chunk$ = cold('-a-|', { a: bytes.record.subarray(0, 5) });
      expectObservable(chunk$.pipe(decodeLogfebe())).toBe('-#', out, protocolError('LOGFEBE_BAD_ORDER', 'L record before the V message'));
    });
  });

  it('errors at completion when the stream stopped inside a message', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const chunk$ = cold('-a----b-|', { a: bytes.preamble, b: bytes.record.subarray(0, 10) });
      const truncated = protocolError('LOGFEBE_TRUNCATED_MESSAGE', `stream ended inside an L message (10 of its ${bytes.record.length} bytes received)`);
      expectObservable(chunk$.pipe(decodeLogfebe())).toBe('-(vi)---#', out, truncated);
    });
  });

  it('passes an upstream error through untouched', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const socketError = new Error('ECONNRESET');
      const chunk$ = cold('-a----#', { a: bytes.preamble }, socketError);
      expectObservable(chunk$.pipe(decodeLogfebe())).toBe('-(vi)-#', out, socketError);
    });
  });

  it('decodes each subscription as its own connection', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const decoded$ = cold('-a-----b-|', { a: bytes.preamble, b: bytes.record }).pipe(decodeLogfebe());
      expectObservable(decoded$).toBe('-(vi)--r-|', out);
      expectObservable(decoded$).toBe('-(vi)--r-|', out);
    });
  });

  it('works on a hot socket from the moment of subscription', () => {
    testScheduler.run(({ hot, expectObservable }) => {
      const chunk$ = hot('-x-^-a-----b-|', { x: bytes.record, a: bytes.preamble, b: bytes.record });
      expectObservable(chunk$.pipe(decodeLogfebe())).toBe('--(vi)--r-|', out);
    });
  });
});
