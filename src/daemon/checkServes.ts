// `pg-logplexcollector check-serves FILE`: the daemon's judgement of a serves file without the
// daemon, for an operator or a configuration-management tool to run before dropping the file
// in as serves.new. The problems are the ones serves_rejected would carry (parseServes, the
// same function), all of them rather than the first 20; nothing is listened on or written.
import { readFile, stat } from 'node:fs/promises';
import * as E from 'fp-ts/Either';
import { describeFsError } from '../servedb/errors';
import { MAX_SERVES_FILE_BYTES } from '../servedb/store';
import { describeInvalid, parseServes } from '../servedb/validate';

export interface CheckResult {
  readonly ok: boolean;
  readonly text: string; // what to print: a summary when ok, every problem one per line when not
}

export async function checkServesFile(file: string, logplexUrl: URL | undefined): Promise<CheckResult> {
  let text: string;
  try {
    // A FIFO or a device would block the read (or never end): only a regular file is a serves file.
    const stats = await stat(file);
    if (!stats.isFile()) return { ok: false, text: `${file} is not a regular file` };
    if (stats.size > MAX_SERVES_FILE_BYTES) return { ok: false, text: `${file} is ${stats.size} bytes, more than the ${MAX_SERVES_FILE_BYTES} a serves file may have` };
    text = await readFile(file, 'utf8');
  } catch (err) {
    return { ok: false, text: `${file}: ${describeFsError(err)}` };
  }
  const parsed = parseServes(text, { logplexUrl, fileName: file });
  if (E.isLeft(parsed)) return { ok: false, text: describeInvalid(parsed.left, Infinity) };
  const n = parsed.right.length;
  return { ok: true, text: `${file}: ${n} serve${n === 1 ? '' : 's'}, would be accepted` };
}
