// What the sink needs from the format stage, and the adapter to the real one (src/format). The
// sink takes it injected so that tests can use a trivial stand-in and the daemon its own options.
import { createFormatter, formatNotice, l10Text, resolveFormatOptions, splitFrames, type FormatOptions, type FormattedRecord } from '../format';
import type { Serve } from '../servedb/serve';
import type { SourcedRecord } from '../source/sourcedRecord';

export interface SinkFormatter {
  readonly record: (rec: SourcedRecord) => FormattedRecord; // one record's frames in one Buffer, and how many
  readonly notice: (serve: Serve, message: string, at: Date) => Buffer; // one frame of our own (L10)
  readonly l10Text: (kind: 'dropped' | 'lost', count: number, since: Date) => string;
}

/** The real formatter, plus a record's frames one Buffer each for tools that count or look at them. */
export interface RealSinkFormatter extends SinkFormatter {
  readonly frames: (rec: SourcedRecord) => Buffer[]; // views into record(rec).bytes; the sink never needs them
}

/** The real formatter with these format options (validated here, once, so a bad option fails at start). */
export function sinkFormatter(options: Partial<FormatOptions> = {}): RealSinkFormatter {
  const resolved = resolveFormatOptions(options);
  const record = createFormatter(resolved);
  return {
    record,
    frames: (rec) => splitFrames(record(rec).bytes),
    notice: (serve, message, at) => formatNotice(serve, message, at, resolved),
    l10Text,
  };
}
