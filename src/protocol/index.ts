// The protocol stage's public surface: decode logfebe-1 connections (and encode them, for tests
// and emulators).
export type {
  IdentityMessage,
  LogfebeMessage,
  LogRecord,
  RecordMessage,
  Severity,
  SeverityName,
  VersionMessage,
} from './messages';
export { ProtocolError, type ProtocolErrorCode } from './errors';
export { DEFAULT_PROTOCOL_OPTIONS, resolveProtocolOptions, type ProtocolOptions } from './options';
export { parseVersion, majorVersionOf } from './version';
export { severityOf, WARNING_CLIENT_ONLY_SINCE } from './elevel';
export { FrameReader, type Frame, type FrameType } from './deframe';
export { LogfebeDecoder } from './decoder';
export { encodeIdentity, encodeRaw, encodeRecord, encodeVersion } from './encode';
