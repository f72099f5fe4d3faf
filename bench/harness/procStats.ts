// What the collector process costs, read from outside through /proc (Linux), so the daemon runs
// exactly as shipped: no instrumentation of its own is trusted or needed.
import { readFileSync } from 'node:fs';

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on every Linux we run on (getconf CLK_TCK)

/** utime + stime of `pid`, in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: count fields after the last `)`.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]); // field 14 of proc(5)
  const stime = Number(fields[12]); // field 15
  return (utime + stime) / CLOCK_TICKS_PER_SECOND;
}

/** A `Vm…:  1234 kB` line of /proc/<pid>/status, in MB (10^6 bytes); undefined once the process is gone. */
export function statusMb(pid: number, key: 'VmRSS' | 'VmHWM' | 'RssAnon'): number | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
  return m === null ? undefined : (Number(m[1]) * 1024) / 1e6;
}

export interface RssSample {
  readonly atS: number; // seconds since the sampler started
  readonly rssMb: number;
  // The anonymous part: RSS less the file-backed pages (node's own binary is ~43 MB of those,
  // shared with every node process), i.e. what the collector's data and heap really take.
  readonly anonMb: number;
}

/** Samples VmRSS every `everyMs` until stopped; keeps every sample (a 10-minute soak at 5 s is 120). */
export class RssSampler {
  readonly samples: RssSample[] = [];
  readonly #timer: NodeJS.Timeout;
  readonly #started = performance.now();

  constructor(
    readonly pid: number,
    everyMs: number,
  ) {
    this.sample();
    this.#timer = setInterval(() => this.sample(), everyMs);
  }

  sample(): void {
    const rssMb = statusMb(this.pid, 'VmRSS');
    const anonMb = statusMb(this.pid, 'RssAnon');
    if (rssMb !== undefined && anonMb !== undefined) this.samples.push({ atS: (performance.now() - this.#started) / 1000, rssMb, anonMb });
  }

  get maxMb(): number {
    return this.samples.reduce((m, s) => Math.max(m, s.rssMb), 0);
  }

  get maxAnonMb(): number {
    return this.samples.reduce((m, s) => Math.max(m, s.anonMb), 0);
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/** Least-squares slope of RSS over time, in MB per minute. */
export function rssSlopeMbPerMin(samples: readonly RssSample[]): number {
  const n = samples.length;
  if (n < 2) return 0;
  const mx = samples.reduce((a, s) => a + s.atS, 0) / n;
  const my = samples.reduce((a, s) => a + s.rssMb, 0) / n;
  let num = 0;
  let den = 0;
  for (const s of samples) {
    num += (s.atS - mx) * (s.rssMb - my);
    den += (s.atS - mx) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 60;
}
