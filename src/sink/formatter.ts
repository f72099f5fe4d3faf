// What the sink needs from the format stage, and the adapter to the real one (src/format). The
// sink takes it injected so that tests can use a trivial stand-in and the daemon its own options.
import { createFormatter, formatNotice, l10Text, resolveFormatOptions, type FormatOptions, type FormattedRecord } from '../format';
import type { Serve } from '../servedb/serve';
import type { SourcedRecord } from '../source/sourcedRecord';

export interface SinkFormatter {
  readonly record: (rec: SourcedRecord) => FormattedRecord; // one record's frames in one Buffer, and how many
  readonly notice: (serve: Serve, message: string, at: Date) => Buffer; // one frame of our own (L10)
  readonly l10Text: (kind: 'dropped' | 'lost', count: number, since: Date) => string;
}

/** The real formatter with these format options (validated here, once, so a bad option fails at start). */
export function sinkFormatter(options: Partial<FormatOptions> = {}): SinkFormatter {
  const resolved = resolveFormatOptions(options);
  return {
    record: createFormatter(resolved),
    notice: (serve, message, at) => formatNotice(serve, message, at, resolved),
    l10Text,
  };
}
