// The source stage's public surface: serve sets in, records tagged with their serve out (a chunk per read).
export { socketSource, type SocketSourceOptions } from './socketSource';
export { DEFAULT_SOURCE_OPTIONS, resolveSourceOptions, type SourceOptions } from './options';
export { chunkOf, eachRecord, type SourcedChunk, type SourcedInput, type SourcedRecord } from './sourcedRecord';
export type {
  AcceptErrorEvent,
  ConnectionsRefusedEvent,
  ConnectEvent,
  DisconnectEvent,
  IdentityMismatchEvent,
  ListenErrorEvent,
  ListeningEvent,
  ProtocolErrorEvent,
  SourceEvent,
  StoppedListeningEvent,
} from './events';
export { rebindOnServeSet } from './rebindOnServeSet';
export { listenUnix, ListenError, MAX_UNIX_SOCKET_PATH_BYTES, type ListenErrorCode, type ListenUnixOptions } from './listenUnix';
export { readConnection, identityMismatchReason, type ConnectionOptions } from './connection';
