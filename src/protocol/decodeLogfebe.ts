// The protocol stage as an operator: one connection's socket chunks in, its V, I and L messages
// out. A violation is an error notification carrying a ProtocolError; the source logs it and
// closes that connection only.
import { concat, concatMap, concatWith, defer, EMPTY, throwError, type OperatorFunction } from '../rx';
import { LogfebeDecoder } from './decoder';
import type { LogfebeMessage } from './messages';
import { resolveProtocolOptions, type ProtocolOptions } from './options';

/**
 * Each subscription decodes its own connection. Messages completed by one chunk are emitted
 * synchronously, in order, when that chunk arrives; a violation errors at the chunk that shows it,
 * after the messages that chunk completed before it. Completion passes through, unless the stream
 * stopped inside a message (LOGFEBE_TRUNCATED_MESSAGE).
 */
export function decodeLogfebe(options?: Partial<ProtocolOptions>): OperatorFunction<Buffer, LogfebeMessage> {
  // Resolved here, not per subscription, so a bad option fails where the pipeline is built.
  const resolved = resolveProtocolOptions(options);
  return (chunk$) =>
    defer(() => {
      const decoder = new LogfebeDecoder(resolved);
      return chunk$.pipe(
        concatMap((chunk) => {
          const messages = decoder.push(chunk);
          const violation = decoder.violation;
          // Records before a violation in the same chunk still go out, then the error, same frame.
          return violation === undefined ? messages : concat(messages, throwError(() => violation));
        }),
        concatWith(
          defer(() => {
            decoder.end();
            return EMPTY;
          }),
        ),
      );
    });
}
