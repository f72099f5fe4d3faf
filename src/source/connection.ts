// One accepted connection from a PostgreSQL process, as the records it sends: one emission per
// read, every record that read completed, tagged with the serve as it is at the read.
import type { Socket } from 'node:net';
import { asyncScheduler, Observable, type SchedulerAction, type SchedulerLike, type Subscription } from '../rx';
import type { EventSink } from '../events';
import type { Budget } from '../budget';
import { LogfebeDecoder, ProtocolError, type RecordMessage, type VersionMessage } from '../protocol';
import type { Serve } from '../servedb/serve';
import type { SourceEvent } from './events';
import type { SourceOptions } from './options';
import type { ReadTicks, TickReader } from './readTicks';
import type { SourcedChunk } from './sourcedRecord';

export type ConnectionOptions = Pick<SourceOptions, 'maxMessageBytes' | 'drainIdleMs' | 'drainTimeoutMs' | 'handshakeTimeoutMs'> & {
  readonly events: EventSink<SourceEvent>;
  readonly partials?: Budget; // bytes of unfinished messages, shared by every connection of the source; unbounded when absent
  readonly scheduler?: SchedulerLike; // the handshake and drain timers, and the read time of records; asyncScheduler when absent
  readonly ticks?: ReadTicks; // read once per tick of these; as each chunk arrives when absent
};

/** The words of `identity_mismatch`, as the serve-db spec writes them. */
export const identityMismatchReason = (got: string, expected: string): string =>
  `got identity "${got}", socket expects "${expected}"`;

/**
 * A read this large means the backend's kernel queue is filling: the socket is then read as soon
 * as it is readable until a read comes back smaller. A unix stream socket queues what the sender's
 * SO_SNDBUF allows (net.core.wmem_default, 212,992 bytes on Linux), each send() counted with its
 * overhead: it took 167 sends of 300 or of 600 bytes, 278 of 100 bytes, 93 of 1,000, 233,152
 * bytes in sends of 64 KiB, before send() would block. pg_logfebe writes a record with one
 * send(). A read of a quarter of that (40 records, or 48 KiB) leaves the backend at least three
 * more such intervals before it could wait; below it, the socket waits for the next tick.
 */
export const CATCH_UP_RECORDS = 40;
export const CATCH_UP_BYTES = 48 * 1024;

// How the socket is read: as each chunk arrives (no ticks, or a socket node buffers more than a
// chunk for), once per tick, or as it arrives until a read comes back small (and for good while
// draining: the connection is about to close, what it holds goes out now).
const FLOWING = 0;
const TICKED = 1;
const CATCHING_UP = 2;
type ReadMode = typeof FLOWING | typeof TICKED | typeof CATCHING_UP;

/**
 * Reads `socket` until it closes, emitting its records. `serve$` must replay the current serve
 * synchronously on subscribe (rebindOnServeSet's does), then emit each change:
 *
 * - No backend waits for us: with `ticks`, the socket (accepted with a readable high-water mark
 *   of 1, so node holds at most one chunk and stops reading the socket until it is taken) is
 *   read once per tick; a read of CATCH_UP_RECORDS or CATCH_UP_BYTES (its kernel queue is
 *   filling) has it read as soon as it is readable until a read comes back smaller. Without
 *   ticks it is read as each chunk arrives. Never paused otherwise, whatever downstream does: a
 *   PostgreSQL backend blocks inside its logging call when its socket buffer fills.
 * - Every record a read completes is decoded in one pass and emitted as one chunk, in order,
 *   before the next read; `receivedAt` is the time of the read (of the tick). A read that
 *   completes no record emits nothing. Records a read completed before a violation or a mismatch
 *   are emitted before the connection closes.
 * - V, then I: the identity must equal the serve's. On a mismatch, or any protocol violation, one
 *   event is logged and the socket destroyed; only records after a matched I are ever emitted.
 *   Both must have arrived within `handshakeTimeoutMs` of the accept (LOGFEBE_HANDSHAKE_TIMEOUT).
 * - What an unfinished message holds comes from `partials`, shared by every connection; one that
 *   would pass it is closed (LOGFEBE_PARTIAL_LIMIT) and gives back what it held.
 * - A serve change applies from the next record read. If its identity changed, the connection
 *   (which identified as the old one) is closed like a mismatch.
 * - When `serve$` completes (serve removed, or shutdown) the connection drains: it reads as data
 *   arrives until it has been idle `drainIdleMs` (at most `drainTimeoutMs`), so records already
 *   in the kernel buffer are forwarded, then it is destroyed and the Observable completes.
 * - It completes (never errors) when the connection ends for any reason. Unsubscribing destroys
 *   the socket at once.
 * - Every timer runs on `scheduler`.
 */
export function readConnection(
  socket: Socket,
  serve$: Observable<Serve>,
  options: ConnectionOptions,
  onIdentified: () => void = () => undefined, // its I matched: admission stops counting it as a stranger
): Observable<SourcedChunk> {
  return new Observable<SourcedChunk>((subscriber) => {
    const scheduler = options.scheduler ?? asyncScheduler;
    const ticks = options.ticks;
    const acceptedAt = scheduler.now();
    const decoder = new LogfebeDecoder({ maxMessageBytes: options.maxMessageBytes }, options.partials);
    let serve: Serve | undefined; // the current one
    let version: VersionMessage | undefined;
    let identity: string | undefined; // set once I matched: records flow from then on
    let records = 0;
    let bytes = 0;
    let ended = false; // the one terminal event has been logged
    let draining = false;
    let lastReadAt = 0; // scheduler time of the last chunk, while draining
    let drainTimers: Subscription | undefined; // set while draining
    let handshakeTimer: Subscription | undefined; // set until I matched
    // Paused with a larger high-water mark, node reads on until that much waits (a wake-up per
    // send again) and each tick takes one chunk: ticks only for sockets that hold one chunk.
    let mode: ReadMode = ticks !== undefined && socket.readableHighWaterMark <= 1 ? TICKED : FLOWING;

    const totals = () => ({ records, bytes, duration_ms: scheduler.now() - acceptedAt, identified: identity !== undefined });
    const where = () => ({ serve: serve?.name, socket: serve?.socketPath ?? '' });

    /** Destroys the socket, logs `event`, completes. Later calls do nothing. */
    const end = (event: SourceEvent | undefined): void => {
      if (ended) return;
      ended = true;
      ticks?.delete(reader);
      drainTimers?.unsubscribe();
      handshakeTimer?.unsubscribe();
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

    /** Decodes and forwards one chunk; true when it was large enough to catch up. */
    const onChunk = (chunk: Buffer, receivedAt: number): boolean => {
      if (ended || serve === undefined) return false;
      bytes += chunk.length;
      if (draining) lastReadAt = receivedAt;
      let messages;
      try {
        messages = decoder.wire(chunk); // records as their bytes: the sink formats them without a string
      } catch (error) {
        protocolError(error);
        return false;
      }
      // Records come after a matched I only, so V and I (once each, at the start) never share a
      // read with records before them: the records of a read are one run, emitted at once.
      let chunkRecords: RecordMessage[] | undefined;
      for (const message of messages) {
        if (message.type === 'L') {
          (chunkRecords ??= []).push(message);
        } else if (message.type === 'V') {
          version = message;
        } else if (message.identity !== serve.identity) {
          mismatch(message.identity, serve.identity);
          return false;
        } else {
          identity = message.identity;
          handshakeTimer?.unsubscribe();
          handshakeTimer = undefined;
          onIdentified();
          options.events({ kind: 'connect', level: 'info', ...where(), identity, server_version: version?.serverVersion ?? '' });
        }
      }
      if (chunkRecords !== undefined) {
        records += chunkRecords.length;
        subscriber.next({ serve, records: chunkRecords, receivedAt });
      }
      // A violation after good records in the same read: those records were forwarded above,
      // and the connection closes now rather than at its next read. (`ended` flips if
      // downstream unsubscribed from next().)
      if (decoder.violation !== undefined && !ended) protocolError(decoder.violation);
      return messages.length >= CATCH_UP_RECORDS || chunk.length >= CATCH_UP_BYTES;
    };

    const onData = (chunk: Buffer): void => void onChunk(chunk, scheduler.now());

    /** Takes what node holds (one chunk, with a high-water mark of 1); true if any was large. */
    const readHeld = (now: number): boolean => {
      let large = false;
      let chunk: Buffer | null;
      while (!ended && (chunk = socket.read() as Buffer | null) !== null) large = onChunk(chunk, now) || large;
      return large;
    };

    // Catching up, the socket flows: libuv reads on (up to 32 reads a turn of the loop) as long
    // as there is data, each chunk handed over at once. Paused again with a high-water mark of 1,
    // node keeps the next chunk and stops reading the socket until a tick takes it.
    const catchUp = (): void => {
      if (ended || mode !== TICKED) return;
      mode = CATCHING_UP;
      ticks?.delete(reader);
      socket.on('data', onCatchUpData);
      socket.resume(); // a 'data' listener alone does not resume a socket paused by backToTicks
    };

    // Not once ended: the read that ended it (a violation, the partial cap, a mismatch) reports
    // itself small, and the ticks would then read a closed connection, and hold it, forever.
    const backToTicks = (): void => {
      if (ended || mode !== CATCHING_UP || draining || ticks === undefined) return;
      mode = TICKED;
      socket.removeListener('data', onCatchUpData);
      socket.pause();
      ticks.add(reader);
    };

    const onCatchUpData = (chunk: Buffer): void => {
      if (!onChunk(chunk, scheduler.now())) backToTicks();
    };

    const reader: TickReader = {
      readTick: (now) => {
        if (readHeld(now)) catchUp();
      },
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
      draining = true;
      catchUp();
      const startedAt = scheduler.now();
      lastReadAt = startedAt;
      drainTimers = scheduler.schedule(function checkIdle(this: SchedulerAction<undefined>) {
        const quiet = scheduler.now() - lastReadAt;
        if (quiet >= options.drainIdleMs) disconnect('serve stopped; connection drained');
        else this.schedule(undefined, options.drainIdleMs - quiet);
      }, options.drainIdleMs);
      drainTimers.add(scheduler.schedule(() => disconnect('serve stopped; drain timed out'), options.drainTimeoutMs));
    };

    handshakeTimer = scheduler.schedule(() => {
      const got = version === undefined ? 'nothing complete' : 'V only';
      protocolError(
        new ProtocolError('LOGFEBE_HANDSHAKE_TIMEOUT', `no V and I within ${options.handshakeTimeoutMs} ms of connecting (got ${got}, ${bytes} bytes)`),
      );
    }, options.handshakeTimeoutMs);

    // Listeners first, so not a byte is missed; 'data' puts the socket in flowing mode for good.
    if (mode === FLOWING) socket.on('data', onData);
    else ticks?.add(reader);
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
      ticks?.delete(reader);
      handshakeTimer.unsubscribe();
      socket.destroy();
      subscriber.error(new Error('readConnection: serve$ did not replay the current serve on subscribe'));
    }

    return () => {
      serveSubscription.unsubscribe();
      disconnect('source unsubscribed');
    };
  });
}
