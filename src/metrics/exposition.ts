// The Prometheus text format (version 0.0.4), written by hand for the per-serve families: at
// 10,000 serves a scrape is over a hundred thousand series, and prom-client renders a registry in
// one go, holding the event loop (and every tenant's socket) for hundreds of milliseconds. Here
// a family is a generator of series, and the renderer stops every few thousand series to let the
// loop run: a scrape costs the record path one slice at a time, never the whole render.
import { setImmediate as nextTurn } from 'node:timers/promises';

export type FamilyType = 'counter' | 'gauge';

/** One series: its labels already rendered (`serve="A",socket="/run/a.sock"`, or '' for none) and its value. */
export type Series = readonly [labels: string, value: number];

export interface Family {
  readonly name: string;
  readonly type: FamilyType;
  readonly help: string;
  /** The family's series, read when the render reaches it (values are those of that moment). */
  readonly series: () => Iterable<Series>;
}

/** Series rendered between two turns of the event loop: about a millisecond of work. */
export const SERIES_PER_SLICE = 1_000;

/** A label value as the format wants it: backslash, double quote and newline escaped. */
export function escapeLabelValue(value: string): string {
  return /[\\"\n]/.test(value) ? value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : value;
}

/** `a="x",b="y"` from pairs, in the order given. */
export function renderLabels(pairs: readonly (readonly [string, string])[]): string {
  return pairs.map(([name, value]) => `${name}="${escapeLabelValue(value)}"`).join(',');
}

/** `base` plus one more label, for a family that breaks a serve's series down (by status, reason...). */
export function withLabel(base: string, name: string, value: string): string {
  const extra = `${name}="${escapeLabelValue(value)}"`;
  return base === '' ? extra : `${base},${extra}`;
}

export function formatValue(value: number): string {
  if (Number.isFinite(value)) return String(value);
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function header(family: Family): string {
  const help = family.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  return `# HELP ${family.name} ${help}\n# TYPE ${family.name} ${family.type}\n`;
}

/**
 * Every family, HELP and TYPE first (also for a family with no series yet, so that dashboards
 * and alert rules find every name from the first scrape), as UTF-8 chunks in order. Yields to the
 * event loop after each `seriesPerSlice` series (`pause` is how; injectable for tests).
 */
export async function renderFamilies(
  families: Iterable<Family>,
  seriesPerSlice = SERIES_PER_SLICE,
  pause: () => Promise<unknown> = nextTurn,
): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  let text = ''; // the slice so far: appending builds a rope, flattened once by Buffer.from
  let inSlice = 0;
  for (const family of families) {
    text += header(family);
    const name = family.name;
    for (const [labels, value] of family.series()) {
      text += labels === '' ? `${name} ${formatValue(value)}\n` : `${name}{${labels}} ${formatValue(value)}\n`;
      inSlice += 1;
      if (inSlice >= seriesPerSlice) {
        chunks.push(Buffer.from(text));
        text = '';
        inSlice = 0;
        await pause();
      }
    }
  }
  if (text !== '') chunks.push(Buffer.from(text));
  return chunks;
}
