// What a reader of pg_logfebe's socket costs, seen from /proc: its own wake-ups, and how often
// the server's backends were found waiting for it inside send().
import { readdirSync, readFileSync } from 'node:fs';

/** Voluntary context switches of every thread of `pid` (each one a sleep, so each a wake-up). */
export function wakeUps(pid: number): number {
  let sum = 0;
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0; // gone
  }
  for (const task of tasks) {
    try {
      const m = /^voluntary_ctxt_switches:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/task/${task}/status`, 'utf8'));
      if (m !== null) sum += Number(m[1]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return sum;
}

// Where a process blocked in send() on a full unix socket sleeps (its kernel stack:
// sock_alloc_send_pskb ← unix_stream_sendmsg ← __sys_sendto); the others for other kernels.
const SEND_WAITS = new Set(['sock_alloc_send_pskb', 'unix_stream_sendmsg', 'sk_stream_wait_memory', 'sock_wait_for_wmem']);

/**
 * Samples /proc/PID/wchan of every process `pids()` names (the server's backends), every
 * `everyMs`, counting the samples that found one waiting in a socket send.
 */
export class SendWaitSampler {
  samples = 0;
  sendWaits = 0;
  readonly #timer: NodeJS.Timeout;
  readonly #refresh: NodeJS.Timeout;
  #pids: number[];

  constructor(pids: () => number[], everyMs = 10) {
    this.#pids = pids();
    // Backends come and go with pgbench's clients: look for them again now and then.
    this.#refresh = setInterval(() => (this.#pids = pids()), 500);
    this.#timer = setInterval(() => this.#sample(), everyMs);
  }

  get share(): number {
    return this.samples === 0 ? 0 : this.sendWaits / this.samples;
  }

  stop(): void {
    clearInterval(this.#timer);
    clearInterval(this.#refresh);
  }

  #sample(): void {
    for (const pid of this.#pids) {
      let wchan: string;
      try {
        wchan = readFileSync(`/proc/${pid}/wchan`, 'utf8').trim();
      } catch {
        continue; // exited
      }
      this.samples++;
      if (SEND_WAITS.has(wchan)) this.sendWaits++;
    }
  }
}
