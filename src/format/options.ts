// Every tunable of the format stage, with its default, in one place
// (docs/log-format.md, docs/logplex-input.md).
import { FormatError } from './errors';
import { compilePrefix } from './prefix';

/** Logplex treats a longer length prefix as garbage and the whole batch is corrupted. */
export const MAX_FRAME_BYTES = 10240;

// RFC 5424 field limits we rely on to bound the header before any record is seen. A logplex
// token (`t.` + UUID) is 38 characters; APP-NAME may be 48 at most.
const MAX_APP_NAME_BYTES = 48;
const MAX_HOSTNAME_BYTES = 255;
const MAX_PROCID_BYTES = 128;
// `postgres.` + an int32 in decimal (`-2147483648` is the longest).
const MAX_RECORD_PROCID_BYTES = 'postgres.-2147483648'.length;
// `<191>1 `: the largest PRI (facility 23, severity 7) and the version.
const MAX_PRI_AND_VERSION_BYTES = '<191>1 '.length;
// `2026-11-25T01:43:51.596000+00:00`: every timestamp we write has this length.
const TIMESTAMP_BYTES = 32;
// Highest maxRecordFrames: a whole batch of the sink's (its frame cap's default) and more.
const MAX_RECORD_FRAMES = 100_000;
// Below this a record's tag and prefix would leave almost nothing for the text itself.
const MIN_MESSAGE_BYTES = 512;

export interface FormatOptions {
  /**
   * log_line_prefix-style template put before each part (`LOG:  …`, `DETAIL:  …`) of a record.
   * Heroku Postgres uses `sql_error_code = %e `, which pgBadger's logplex parser knows.
   */
  readonly linePrefix: string;
  /** Syslog facility; local0 (16) as Heroku Postgres, so LOG is `<134>` and ERROR `<132>`. */
  readonly facility: number;
  /** Syslog HOSTNAME; logplex passes it through, readers rarely show it. */
  readonly hostname: string;
  /**
   * Cap on a frame's MSG part in bytes (log-shuttle's default). Longer lines continue in the next
   * frame. Validated so that header + MSG can never pass logplex's 10240-byte frame limit.
   */
  readonly maxMessageBytes: number;
  /**
   * PROCID of our own in-band notices (L10 drops and losses). Starts with `postgres` so that
   * `heroku logs -p postgres` shows them next to the records, but is not `postgres.<digits>`, so
   * pgBadger does not mistake them for a backend.
   */
  readonly noticeProcId: string;
  /**
   * Most frames one record becomes. A record past it keeps its first maxRecordFrames - 1 frames
   * and ends with one marker frame (cutMarker) in place of the rest. Any SQL author can log a
   * record of `"a\n"` × 524,288 (inside the 1 MiB record cap) with `log_statement = all`: one
   * frame per line made that 524,288 frames, 48 MB, 1.1-1.8 s of one core in one go, during which
   * no other tenant's socket was read. 1000 frames formats in 0.3-1.7 ms on the bench machine;
   * it fits in a batch beside others (5000 frames); it is far more than ordinary records take
   * (5.5 frames on average in the bench, a 1 MiB single line 106); and a statement of 999 lines
   * still arrives whole.
   */
  readonly maxRecordFrames: number;
}

export const DEFAULT_FORMAT_OPTIONS: FormatOptions = Object.freeze({
  linePrefix: 'sql_error_code = %e ',
  facility: 16,
  hostname: 'postgres',
  maxMessageBytes: 10000,
  noticeProcId: 'postgres.collector',
  maxRecordFrames: 1000,
});

/**
 * The most bytes a frame header (`<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID - - `) can take with
 * these options, for any record and any RFC 5424-sized token.
 */
export function maxHeaderBytes(options: Pick<FormatOptions, 'hostname' | 'noticeProcId'>): number {
  const procId = Math.max(MAX_RECORD_PROCID_BYTES, Buffer.byteLength(options.noticeProcId));
  // A space after TIMESTAMP, HOSTNAME and APP-NAME each, then ` - - ` for (empty) MSGID and SD.
  return (
    MAX_PRI_AND_VERSION_BYTES +
    TIMESTAMP_BYTES +
    1 +
    Buffer.byteLength(options.hostname) +
    1 +
    MAX_APP_NAME_BYTES +
    1 +
    procId +
    ' - - '.length
  );
}

// RFC 5424 PRINTUSASCII: header fields are space-separated, so a space or a control byte in one
// would shift every field after it.
const PRINTUSASCII = /^[\x21-\x7e]+$/;

/** Defaults filled in and every value checked; throws FormatError naming the option. */
export function resolveFormatOptions(options: Partial<FormatOptions> = {}): FormatOptions {
  const resolved: FormatOptions = Object.freeze({
    linePrefix: options.linePrefix ?? DEFAULT_FORMAT_OPTIONS.linePrefix,
    facility: options.facility ?? DEFAULT_FORMAT_OPTIONS.facility,
    hostname: options.hostname ?? DEFAULT_FORMAT_OPTIONS.hostname,
    maxMessageBytes: options.maxMessageBytes ?? DEFAULT_FORMAT_OPTIONS.maxMessageBytes,
    noticeProcId: options.noticeProcId ?? DEFAULT_FORMAT_OPTIONS.noticeProcId,
    maxRecordFrames: options.maxRecordFrames ?? DEFAULT_FORMAT_OPTIONS.maxRecordFrames,
  });
  validateFormatOptions(resolved);
  return resolved;
}

/** Throws FormatError for the first option that is wrong; returns the options unchanged. */
export function validateFormatOptions(options: FormatOptions): FormatOptions {
  const bad = (path: string, why: string): never => {
    throw new FormatError('FORMAT_OPTIONS_INVALID', `format.${path}: ${why}`);
  };
  const { facility, hostname, maxMessageBytes, noticeProcId, maxRecordFrames } = options;
  if (!Number.isInteger(facility) || facility < 0 || facility > 23) {
    bad('facility', `must be an integer from 0 to 23 (16 is local0), got ${facility}`);
  }
  if (!PRINTUSASCII.test(hostname) || hostname.length > MAX_HOSTNAME_BYTES) {
    bad('hostname', `must be 1 to ${MAX_HOSTNAME_BYTES} printable ASCII characters without spaces, got ${JSON.stringify(hostname)}`);
  }
  if (!PRINTUSASCII.test(noticeProcId) || noticeProcId.length > MAX_PROCID_BYTES) {
    bad('noticeProcId', `must be 1 to ${MAX_PROCID_BYTES} printable ASCII characters without spaces, got ${JSON.stringify(noticeProcId)}`);
  }
  const ceiling = MAX_FRAME_BYTES - maxHeaderBytes(options);
  if (!Number.isInteger(maxMessageBytes) || maxMessageBytes < MIN_MESSAGE_BYTES || maxMessageBytes > ceiling) {
    bad(
      'maxMessageBytes',
      `must be an integer from ${MIN_MESSAGE_BYTES} to ${ceiling} (a frame header with hostname ` +
        `${JSON.stringify(hostname)} takes up to ${maxHeaderBytes(options)} of logplex's ${MAX_FRAME_BYTES} bytes), got ${maxMessageBytes}`,
    );
  }
  // Two at least: one frame of the record and the marker. The top keeps N within six digits.
  if (!Number.isInteger(maxRecordFrames) || maxRecordFrames < 2 || maxRecordFrames > MAX_RECORD_FRAMES) {
    bad('maxRecordFrames', `must be an integer from 2 to ${MAX_RECORD_FRAMES}, got ${maxRecordFrames}`);
  }
  // Compiling is the check: it throws FormatError('FORMAT_BAD_PREFIX') saying where.
  compilePrefix(options.linePrefix);
  return options;
}
