// Helpers for the serve database specs: a real temporary directory per test, serves files
// written the way the spec asks operators to (atomically, by rename), and waiting on events.
import { access, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { openServeDb, type ServeDb, type ServeDbEvent } from '../../src/servedb';

export const TOKEN = 't.token-SECRET-1'; // a `t` token: must never appear in errors or JSON
export const URL_PASSWORD = 't.url-SECRET-2';
export const SERVE_URL = `https://token:${URL_PASSWORD}@logplex.example.com/logs`;
export const LOGPLEX_URL = new URL('https://collector:SECRET-3@logplex.example.com/logs');

/** A fresh directory under the OS temp dir; remove it with `removeTempDir`. */
export function makeTempDir(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'servedb-'));
}

export function removeTempDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true });
}

export interface ServeEntry {
  readonly i: unknown;
  readonly p: unknown;
  readonly t?: unknown;
  readonly url?: unknown;
  readonly name?: unknown;
  readonly [key: string]: unknown;
}

export function servesText(serves: readonly ServeEntry[], extra: Record<string, unknown> = {}): string {
  return `${JSON.stringify({ ...extra, serves }, null, 2)}\n`;
}

/** Writes `name` in `dir` atomically: a temporary file, then a rename. */
export async function writeAtomically(dir: string, name: string, text: string): Promise<void> {
  const temp = path.join(dir, `.${name}.writing`);
  await writeFile(temp, text);
  await rename(temp, path.join(dir, name));
}

/** Every event outcome$ emits from now on (the replayed latest one included). */
export function collectEvents(db: ServeDb): ServeDbEvent[] {
  const events: ServeDbEvent[] = [];
  db.outcome$.subscribe((event) => events.push(event));
  return events;
}

/** Resolves when `condition` holds, checking every 10 ms; rejects after `ms`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export function socketPath(dir: string, n: number): string {
  return path.join(dir, `s${n}.sock`);
}

/** Opened without file events and with a long poll: for tests that look by rescan() or at start. */
export function openWithoutEvents(dir: string, logplexUrl: URL | undefined): Promise<ServeDb> {
  return openServeDb({ dir, logplexUrl, watchEvents: false, pollIntervalMs: 60_000 });
}

export function existsIn(dir: string, name: string): Promise<boolean> {
  return access(path.join(dir, name)).then(
    () => true,
    () => false,
  );
}

/**
 * Resolves once `text` is serves.loaded and serves.new is gone: serves_accepted is said before
 * the set is applied and copied, so a test that checks the files waits for them too.
 */
export async function acceptSettled(dir: string, text: string): Promise<void> {
  const loaded = (): Promise<string | undefined> => readFile(path.join(dir, 'serves.loaded'), 'utf8').catch(() => undefined);
  // The taken file is removed last (store.ts acceptServes): once it is gone, so are serves.rej and last_error.
  const taken = async (): Promise<boolean> => (await readdir(dir)).some((name) => name.startsWith('.serves.new.'));
  await waitFor(async () => (await loaded()) === text && !(await existsIn(dir, 'serves.new')) && !(await taken()), 5000, 'serves.loaded to hold the accepted file');
}
