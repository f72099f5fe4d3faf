// What the sink needs from the format stage, and the adapter to the real one (src/format). The
// sink takes it injected so that tests can use a trivial stand-in and the daemon its own options.
import { createRecordWriter, formatNotice, l10Text, resolveFormatOptions, type FormatOptions } from '../format';
import type { Serve } from '../servedb/serve';
import type { RecordMessage } from '../protocol/messages';

export interface SinkFormatter {
  /**
   * One record's frames (`message`, read at `receivedAt` on `serve`), written into `target` from
   * `at` and never past `end`: the bytes written, or minus the bytes needed when they do not fit
   * (nothing committed). Throws when the record cannot be framed. (RecordWriter.write in src/format.)
   */
  readonly write: (serve: Serve, message: RecordMessage, receivedAt: number, target: Buffer, at: number, end: number) => number;
  readonly frames: () => number; // frames of the record last written or measured
  readonly notice: (serve: Serve, message: string, at: Date) => Buffer; // one frame of our own (L10)
  readonly l10Text: (kind: 'dropped' | 'lost', count: number, since: Date) => string;
}

/** The real formatter with these format options (validated here, once, so a bad option fails at start). */
export function sinkFormatter(options: Partial<FormatOptions> = {}): SinkFormatter {
  const resolved = resolveFormatOptions(options);
  const writer = createRecordWriter(resolved);
  return {
    write: writer.write,
    frames: writer.frames,
    notice: (serve, message, at) => formatNotice(serve, message, at, resolved),
    l10Text,
  };
}
