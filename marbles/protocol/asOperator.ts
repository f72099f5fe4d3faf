// The protocol classes the source runs (LogfebeDecoder, FrameReader), as operators for marble
// diagrams only. Each chunk goes through push() the way source/connection.ts pushes a socket
// read: what it completes goes out at once, in order; a violation errors after the messages its
// chunk completed before it; the end of the stream is end(), which errors inside a message.
import { concat, concatMap, concatWith, defer, EMPTY, type OperatorFunction, throwError } from 'rxjs';
import { LogfebeDecoder } from '../../src/protocol/decoder';
import { type Frame, FrameReader, frameTypeName } from '../../src/protocol/deframe';
import type { LogfebeMessage } from '../../src/protocol/messages';
import { resolveProtocolOptions, type ProtocolOptions } from '../../src/protocol/options';

/** A connection's chunks through one LogfebeDecoder, as the source decodes them. */
export function decodedByLogfebeDecoder(options?: Partial<ProtocolOptions>): OperatorFunction<Buffer, LogfebeMessage> {
  return (chunk$) =>
    defer(() => {
      const decoder = new LogfebeDecoder(options);
      return chunk$.pipe(
        concatMap((chunk) => {
          const messages = decoder.push(chunk);
          const violation = decoder.violation;
          return violation === undefined ? messages : concat(messages, throwError(() => violation));
        }),
        concatWith(defer(() => (decoder.end(), EMPTY))),
      );
    });
}

/** A connection's chunks through one FrameReader (no order check), frames copied out of the chunk. */
export function framedByFrameReader(options?: Partial<ProtocolOptions>): OperatorFunction<Buffer, Frame> {
  const { maxMessageBytes } = resolveProtocolOptions(options);
  return (chunk$) =>
    defer(() => {
      const reader = new FrameReader(maxMessageBytes);
      return chunk$.pipe(
        concatMap((chunk) => {
          const frames: Frame[] = [];
          try {
            reader.push(chunk, (type, buf, start, end) => frames.push({ type: frameTypeName(type), payload: buf.subarray(start, end) }));
          } catch (error) {
            return concat(frames, throwError(() => error));
          }
          return frames;
        }),
        concatWith(defer(() => (reader.end(), EMPTY))),
      );
    });
}
