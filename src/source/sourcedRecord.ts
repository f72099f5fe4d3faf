// What the socket source hands downstream: every record one read of one connection completed,
// with the serve they arrived on. A read under load carries dozens of records; handing them on
// as one emission costs one pass through the pipeline per read rather than per record.
import type { RecordMessage } from '../protocol/messages';
import { plainRecord } from '../protocol/wireRecord';
import type { Serve } from '../servedb/serve';

/** One record and the serve it arrived on (the collector's record$ shows records this way). */
export interface SourcedRecord {
  readonly serve: Serve; // the serve as it is now: a credential change applies to later records
  readonly message: RecordMessage;
  readonly receivedAt: number; // the scheduler's time of the read (the wall clock by default); the timestamp when LogTime's zone is ambiguous
}

/** The records one read of one connection completed, in the order they were sent: what the source emits. */
export interface SourcedChunk {
  readonly serve: Serve; // the serve as it was at the read: a change applies from the next read
  readonly records: readonly RecordMessage[]; // at least one
  readonly receivedAt: number; // the time of the read (of the tick), for every record of it
}

/** What the sink takes: chunks as the source emits them, or records one by one (a pipeline built by hand). */
export type SourcedInput = SourcedChunk | SourcedRecord;

/** `input` as a chunk: a lone record becomes a chunk of one. */
export const chunkOf = (input: SourcedInput): SourcedChunk =>
  'records' in input ? input : { serve: input.serve, records: [input.message], receivedAt: input.receivedAt };

/**
 * Each record of `chunk` on its own, for whoever wants them one at a time: with its strings, made
 * here (the sink never needs them), and holding none of the bytes of the read it came in.
 */
export function eachRecord(chunk: SourcedChunk, each: (record: SourcedRecord) => void): void {
  const { serve, records, receivedAt } = chunk;
  for (const message of records) each({ serve, message: plainRecord(message), receivedAt });
}
