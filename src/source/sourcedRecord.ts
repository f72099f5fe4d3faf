// What the socket source hands downstream: a decoded record and the serve it arrived on.
import type { RecordMessage } from '../protocol/messages';
import type { Serve } from '../servedb/serve';

export interface SourcedRecord {
  readonly serve: Serve; // the serve as it is now: a credential change applies to later records
  readonly message: RecordMessage;
  readonly receivedAt: number; // Date.now() when read; the timestamp when LogTime's zone is ambiguous
}
