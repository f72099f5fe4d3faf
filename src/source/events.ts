// What the socket source tells the operator. Flat primitive fields only (see ../events.ts); the
// serve's token never appears, its name and socket path identify it.
//
// Per serve: `listening` ... `stopped_listening`, or `listen_error` (on the first failure, when
// its cause changes, and every LISTEN_ERROR_REPEAT_MS while it lasts; not on every retry).
// Per connection: a connection that passed the identity check logs `connect`, then exactly one
// of `disconnect`, `protocol_error` or `identity_mismatch` (serve's identity changed under it).
// A connection refused during the handshake logs exactly one `identity_mismatch` or
// `protocol_error`, never a `connect`. One that closes before identifying logs a debug-level
// `disconnect`.
import type { EventBase } from '../events';
import type { RefusalReason } from './admission';

interface ServeFields {
  readonly serve: string | undefined; // the serve's name (undefined when it has none)
  readonly socket: string; // the serve's socket path
}

/** What a connection had done by the time it ended. */
interface ConnectionTotals {
  readonly records: number; // records forwarded downstream
  readonly bytes: number; // bytes read from the socket
  readonly duration_ms: number; // from accept to close
  readonly identified: boolean; // it had passed the identity check (and logged `connect`)
}

export interface ListeningEvent extends EventBase, ServeFields {
  readonly kind: 'listening';
  readonly level: 'info';
  readonly mode: string; // the socket file's mode, octal, e.g. `0777`
  readonly group: number; // the socket file's group id
}

export interface StoppedListeningEvent extends EventBase, ServeFields {
  readonly kind: 'stopped_listening';
  readonly level: 'info';
}

export interface ListenErrorEvent extends EventBase, ServeFields {
  readonly kind: 'listen_error';
  readonly level: 'error';
  readonly code: string; // a ListenErrorCode
  readonly reason: string;
  readonly retry_in_ms: number | undefined; // undefined: stays down until the serve is re-added
  readonly attempts: number; // failed tries to listen so far, this one included
}

export interface AcceptErrorEvent extends EventBase, ServeFields {
  readonly kind: 'accept_error';
  readonly level: 'error';
  readonly reason: string; // e.g. EMFILE: the listener keeps going
}

/**
 * Connections closed as soon as they were accepted, or closed to make room for a newer one (an
 * unidentified one, or one of the serve holding the most when descriptors run out): the first of
 * each reason at once, then a count per interval while it goes on.
 */
export interface ConnectionsRefusedEvent extends EventBase, ServeFields {
  readonly kind: 'connections_refused';
  readonly level: 'warn';
  readonly reason: RefusalReason; // the serve's cap, its cap of unidentified connections, or the descriptors sockets may use
  readonly refused: number; // connections closed since the last line for this serve and reason
  readonly limit: number; // the cap that was reached
}

export interface ConnectEvent extends EventBase, ServeFields {
  readonly kind: 'connect';
  readonly level: 'info';
  readonly identity: string;
  readonly server_version: string; // e.g. `15.20 (Debian 15.20-0+deb12u1)`
}

export interface DisconnectEvent extends EventBase, ServeFields, ConnectionTotals {
  readonly kind: 'disconnect';
  readonly level: 'info' | 'debug'; // debug for connections that never identified
  readonly identity: string | undefined;
  readonly reason: string;
}

export interface IdentityMismatchEvent extends EventBase, ServeFields, ConnectionTotals {
  readonly kind: 'identity_mismatch';
  readonly level: 'warn';
  readonly got: string; // what the connection identified as
  readonly expected: string; // the serve's identity
  readonly reason: string; // `got identity "x", socket expects "y"`
}

export interface ProtocolErrorEvent extends EventBase, ServeFields, ConnectionTotals {
  readonly kind: 'protocol_error';
  readonly level: 'warn';
  readonly identity: string | undefined; // undefined when it failed before identifying
  readonly code: string; // a ProtocolErrorCode (LOGFEBE_PARTIAL_LIMIT, LOGFEBE_HANDSHAKE_TIMEOUT: our bounds), or DECODER_FAILURE for a bug in the decoder
  readonly reason: string;
}

export type SourceEvent =
  | ListeningEvent
  | StoppedListeningEvent
  | ListenErrorEvent
  | AcceptErrorEvent
  | ConnectionsRefusedEvent
  | ConnectEvent
  | DisconnectEvent
  | IdentityMismatchEvent
  | ProtocolErrorEvent;
