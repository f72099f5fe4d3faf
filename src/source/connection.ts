// One accepted connection from a PostgreSQL process, as the records it sends, each tagged with
// the serve as it is when the record is read.
import type { Socket } from 'node:net';
import { Observable } from '../rx';
import type { EventSink } from '../events';
import type { Budget } from '../budget';
import { LogfebeDecoder, ProtocolError, type VersionMessage } from '../protocol';
import type { Serve } from '../servedb/serve';
import type { SourceEvent } from './events';
import type { SourceOptions } from './options';
import type { SourcedRecord } from './sourcedRecord';

export type ConnectionOptions = Pick<SourceOptions, 'maxMessageBytes' | 'drainIdleMs' | 'drainTimeoutMs' | 'handshakeTimeoutMs'> & {
  readonly events: EventSink<SourceEvent>;
  readonly partials?: Budget; // bytes of unfinished messages, shared by every connection of the source; unbounded when absent
};

/** The words of `identity_mismatch`, as the serve-db spec writes them. */
export const identityMismatchReason = (got: string, expected: string): string =>
  `got identity "${got}", socket expects "${expected}"`;

/**
 * Reads `socket` until it closes, emitting its records. `serve$` must replay the current serve
 * synchronously on subscribe (rebindOnServeSet's does), then emit each change:
 *
 * - The socket is read continuously from the first moment and never paused, whatever downstream
 *   does: a PostgreSQL backend blocks inside its logging call when its socket buffer fills.
 * - V, then I: the identity must equal the serve's. On a mismatch, or any protocol violation, one
 *   event is logged and the socket destroyed; only records after a matched I are ever emitted.
 *   Both must have arrived within `handshakeTimeoutMs` of the accept (LOGFEBE_HANDSHAKE_TIMEOUT).
 * - What an unfinished message holds comes from `partials`, shared by every connection; one that
 *   would pass it is closed (LOGFEBE_PARTIAL_LIMIT) and gives back what it held.
 * - A serve change applies from the next record read. If its identity changed, the connection
 *   (which identified as the old one) is closed like a mismatch.
 * - When `serve$` completes (serve removed, or shutdown) the connection drains: it keeps reading
 *   until it has been idle `drainIdleMs` (at most `drainTimeoutMs`), so records already in the
 *   kernel buffer are forwarded, then it is destroyed and the Observable completes.
 * - It completes (never errors) when the connection ends for any reason. Unsubscribing destroys
 *   the socket at once.
 */
export function readConnection(
  socket: Socket,
  serve$: Observable<Serve>,
  options: ConnectionOptions,
  onIdentified: () => void = () => undefined, // its I matched: admission stops counting it as a stranger
): Observable<SourcedRecord> {
  return new Observable<SourcedRecord>((subscriber) => {
    const acceptedAt = Date.now();
    const decoder = new LogfebeDecoder({ maxMessageBytes: options.maxMessageBytes }, options.partials);
    let serve: Serve | undefined; // the current one
    let version: VersionMessage | undefined;
    let identity: string | undefined; // set once I matched: records flow from then on
    let records = 0;
    let bytes = 0;
    let ended = false; // the one terminal event has been logged
    let idleTimer: NodeJS.Timeout | undefined; // set while draining
    let drainTimer: NodeJS.Timeout | undefined;
    let handshakeTimer: NodeJS.Timeout | undefined; // set until I matched

    const totals = () => ({ records, bytes, duration_ms: Date.now() - acceptedAt, identified: identity !== undefined });
    const where = () => ({ serve: serve?.name, socket: serve?.socketPath ?? '' });

    /** Destroys the socket, logs `event`, completes. Later calls do nothing. */
    const end = (event: SourceEvent | undefined): void => {
      if (ended) return;
      ended = true;
      clearTimeout(idleTimer);
      clearTimeout(drainTimer);
      clearTimeout(handshakeTimer);
      socket.destroy();
      decoder.discard(); // an unfinished message's bytes go back to the shared budget
      if (event !== undefined) options.events(event);
      subscriber.complete();
    };

    const disconnect = (reason: string): void =>
      end({ kind: 'disconnect', level: identity === undefined ? 'debug' : 'info', ...where(), identity, reason, ...totals() });

    const mismatch = (got: string, expected: string): void =>
      end({ kind: 'identity_mismatch', level: 'warn', ...where(), got, expected, reason: identityMismatchReason(got, expected), ...totals() });

    const protocolError = (error: unknown): void => {
      // Anything else thrown by the decoder is a bug of ours, but one triggered by what a peer
      // sent: it closes that connection (and says so) rather than the whole daemon.
      const { code, reason } =
        error instanceof ProtocolError
          ? { code: error.code, reason: error.message }
          : { code: 'DECODER_FAILURE', reason: `decoder failed: ${error instanceof Error ? error.message : String(error)}` };
      end({ kind: 'protocol_error', level: 'warn', ...where(), identity, code, reason, ...totals() });
    };

    const onData = (chunk: Buffer): void => {
      if (ended || serve === undefined) return;
      bytes += chunk.length;
      if (idleTimer !== undefined) idleTimer.refresh(); // still draining something
      let messages;
      try {
        messages = decoder.push(chunk);
      } catch (error) {
        return protocolError(error);
      }
      const receivedAt = Date.now();
      for (const message of messages) {
        // `ended` can flip inside the loop: a mismatch, or downstream unsubscribing from next().
        if (ended) return;
        if (message.type === 'L') {
          records++;
          subscriber.next({ serve, message, receivedAt });
        } else if (message.type === 'V') {
          version = message;
        } else if (message.identity !== serve.identity) {
          return mismatch(message.identity, serve.identity);
        } else {
          identity = message.identity;
          clearTimeout(handshakeTimer);
          onIdentified();
          options.events({ kind: 'connect', level: 'info', ...where(), identity, server_version: version?.serverVersion ?? '' });
        }
      }
      // A violation after good records in the same read: those records were forwarded above,
      // and the connection closes now rather than at its next read.
      if (decoder.violation !== undefined) protocolError(decoder.violation);
    };

    const onEnd = (): void => {
      try {
        decoder.end(); // throws if PostgreSQL stopped in the middle of a message
      } catch (error) {
        return protocolError(error);
      }
      disconnect('closed by PostgreSQL');
    };

    const drain = (): void => {
      if (ended) return;
      idleTimer = setTimeout(() => disconnect('serve stopped; connection drained'), options.drainIdleMs);
      drainTimer = setTimeout(() => disconnect('serve stopped; drain timed out'), options.drainTimeoutMs);
    };

    handshakeTimer = setTimeout(() => {
      const got = version === undefined ? 'nothing complete' : 'V only';
      protocolError(
        new ProtocolError('LOGFEBE_HANDSHAKE_TIMEOUT', `no V and I within ${options.handshakeTimeoutMs} ms of connecting (got ${got}, ${bytes} bytes)`),
      );
    }, options.handshakeTimeoutMs);

    // Listeners first, so not a byte is missed; 'data' puts the socket in flowing mode for good.
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', (error) => disconnect(`socket error: ${error.message}`));
    socket.on('close', () => disconnect('closed'));

    const serveSubscription = serve$.subscribe({
      next: (next) => {
        serve = next;
        if (identity !== undefined && next.identity !== identity) mismatch(identity, next.identity);
      },
      complete: drain,
    });
    if (serve === undefined && !ended) {
      // Contract breach by the caller: say so loudly instead of reading records with no serve.
      serveSubscription.unsubscribe();
      clearTimeout(handshakeTimer);
      socket.destroy();
      subscriber.error(new Error('readConnection: serve$ did not replay the current serve on subscribe'));
    }

    return () => {
      serveSubscription.unsubscribe();
      disconnect('source unsubscribed');
    };
  });
}
