// The process's open-file limit, as the kernel reports it in /proc/self/limits. Node raises the
// soft limit to the hard one at start-up, so the soft value read after that is what we have.
// Every listener and every PostgreSQL connection is a descriptor; past the limit libuv accepts and
// closes new connections by itself (its EMFILE trick), with no error for us to log, and the
// serve database's reads and the posts to logplex fail with EMFILE.
import { readFileSync } from 'node:fs';

export interface OpenFileLimit {
  readonly soft: number; // Infinity when unlimited
  readonly hard: number;
}

const valueOf = (text: string): number => (text === 'unlimited' ? Infinity : Number(text));

/** Parses the `Max open files` line of /proc/self/limits; undefined when it is not there (not Linux). */
export function parseOpenFileLimit(limits: string): OpenFileLimit | undefined {
  const match = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(limits);
  if (match === null) return undefined;
  return { soft: valueOf(match[1] as string), hard: valueOf(match[2] as string) };
}

/** This process's limit now; undefined when the system does not say. */
export function readOpenFileLimit(): OpenFileLimit | undefined {
  try {
    return parseOpenFileLimit(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    return undefined;
  }
}
