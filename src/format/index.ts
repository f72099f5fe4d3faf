// The format stage: SourcedRecord → logplex frames (docs/log-format.md).
export { createFormatter, createRecordWriter, formatNotice, formatRecord, l10Text } from './formatRecord';
export type { FormattedRecord, L10Kind, RecordFormatter, RecordWriter } from './formatRecord';
export { DEFAULT_FORMAT_OPTIONS, MAX_FRAME_BYTES, maxHeaderBytes, resolveFormatOptions, validateFormatOptions } from './options';
export type { FormatOptions } from './options';
export { FormatError } from './errors';
export type { FormatErrorCode } from './errors';
export { compilePrefix } from './prefix';
export type { PrefixRenderer } from './prefix';
export { syslogPri, SYSLOG_SEVERITY } from './severity';
export { syslogTimestamp } from './timestamp';
