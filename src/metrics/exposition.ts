// The Prometheus text format (version 0.0.4), written by hand for the per-serve families: at
// 10,000 serves a scrape is over a hundred thousand series, and prom-client renders a registry in
// one go, holding the event loop (and every tenant's socket) for hundreds of milliseconds. Here
// a family is a cursor over its series, and the renderer stops every few thousand series to let
// the loop run: a scrape costs the record path one slice at a time, never the whole render.
//
// Series are written straight into Buffers, from label bytes encoded once per serve and values
// turned into digits in place: building each line as a string made 12 MB of strings per render
// at 10,000 serves (and as much again flattening them), and collecting that garbage, not the
// rendering, was what held the loop longest while scraped.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { digitsOf, writeDigits } from '../format/bytes';

export type FamilyType = 'counter' | 'gauge';

/** One series: its labels already rendered (`serve="A",socket="/run/a.sock"`, or '' for none) and its value. */
export type Series = readonly [labels: string, value: number];

/** Writes series into `out` until `out.full` or the family's end; true while some remain. */
export type SeriesCursor = (out: SeriesWriter) => boolean;

export interface Family {
  readonly name: string;
  readonly type: FamilyType;
  readonly help: string;
  /** A cursor over the family's series, opened when the render reaches it (values are those of that moment). */
  readonly open: () => SeriesCursor;
}

/** Series rendered between two turns of the event loop: about half a millisecond of work. */
export const SERIES_PER_SLICE = 1_000;
/** Bytes of a chunk of the rendered exposition: what one write to a scraper's socket, or to gzip, takes. */
export const CHUNK_BYTES = 64 * 1024;
/** The longest a value's text can be: `-1.2345678901234567e-308`. */
const MAX_VALUE_BYTES = 24;

const NEWLINE = 0x0a;
const SPACE = 0x20;
const OPEN = 0x7b; // {
const CLOSE = 0x7d; // }
const COMMA = 0x2c;
const MINUS = 0x2d;

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
 * Where a render writes: chunks of CHUNK_BYTES, each sealed (cut to what it holds) when the next
 * line would not fit, and a count of series since the last turn of the loop.
 */
export class SeriesWriter {
  readonly #chunks: Buffer[] = [];
  #chunk: Buffer = Buffer.allocUnsafeSlow(0);
  #at = 0;
  #inSlice = 0;

  constructor(private readonly seriesPerSlice: number) {}

  /** Whether this slice has had its series: the cursor should stop and let the loop turn. */
  get full(): boolean {
    return this.#inSlice >= this.seriesPerSlice;
  }

  /** A turn of the loop has passed: a new slice begins. */
  nextSlice(): void {
    this.#inSlice = 0;
  }

  /** Text written as it is (HELP and TYPE lines). */
  text(text: string): void {
    this.#room(Buffer.byteLength(text));
    this.#at += this.#chunk.write(text, this.#at);
  }

  /** `name{labels} value\n`, or `name value\n` when `labels` is empty; `labels` as from `labelBytes`. */
  series(name: Buffer, labels: Buffer, value: number): void {
    this.#room(name.length + labels.length + MAX_VALUE_BYTES + 4);
    this.#bytes(name);
    if (labels.length > 0) {
      this.#chunk[this.#at++] = OPEN;
      this.#bytes(labels);
      this.#chunk[this.#at++] = CLOSE;
    }
    this.#end(value);
  }

  /** `name{labels,extra} value\n`: a serve's labels and one more pair, `extra` as from `labelBytes`. */
  seriesWith(name: Buffer, labels: Buffer, extra: Buffer, value: number): void {
    this.#room(name.length + labels.length + extra.length + MAX_VALUE_BYTES + 5);
    this.#bytes(name);
    this.#chunk[this.#at++] = OPEN;
    if (labels.length > 0) {
      this.#bytes(labels);
      this.#chunk[this.#at++] = COMMA;
    }
    this.#bytes(extra);
    this.#chunk[this.#at++] = CLOSE;
    this.#end(value);
  }

  /** The chunks written, in order; the writer is done with them. */
  finish(): Buffer[] {
    this.#seal();
    return this.#chunks;
  }

  #bytes(bytes: Buffer): void {
    this.#chunk.set(bytes, this.#at);
    this.#at += bytes.length;
  }

  /** ` value\n`; integers as digits written in place, other values as `formatValue` says. */
  #end(value: number): void {
    const chunk = this.#chunk;
    chunk[this.#at++] = SPACE;
    if (Number.isSafeInteger(value)) {
      let n = value;
      if (n < 0) {
        chunk[this.#at++] = MINUS;
        n = -n;
      }
      const digits = digitsOf(n);
      writeDigits(chunk, this.#at, n, digits);
      this.#at += digits;
    } else {
      this.#at += chunk.write(formatValue(value), this.#at, 'latin1');
    }
    chunk[this.#at++] = NEWLINE;
    this.#inSlice += 1;
  }

  #room(bytes: number): void {
    if (this.#at + bytes <= this.#chunk.length) return;
    this.#seal();
    // Off the JavaScript heap: a chunk lives as long as a render is served, and would otherwise
    // be copied by every young-generation collection meanwhile.
    this.#chunk = Buffer.allocUnsafeSlow(Math.max(CHUNK_BYTES, bytes));
    this.#at = 0;
  }

  #seal(): void {
    if (this.#at > 0) this.#chunks.push(this.#chunk.subarray(0, this.#at));
    this.#at = 0;
  }
}

/** Label pairs as a series writer takes them: `a="x",b="y"` in UTF-8, encoded once. */
export function labelBytes(pairs: readonly (readonly [string, string])[]): Buffer {
  return Buffer.from(renderLabels(pairs));
}

/** A family of a few series, labels rendered as text (build_info, the spool's breakdown...). */
export function listFamily(name: string, type: FamilyType, help: string, series: () => Iterable<Series>): Family {
  return rowFamily(name, type, help, () => [...series()], ([labels, value], nameBytes, out) => out.series(nameBytes, labels === '' ? EMPTY : Buffer.from(labels), value));
}

const EMPTY = Buffer.alloc(0);

/**
 * A family with series per row (per serve): `write(row, name, out)` writes the row's series,
 * none or several. `rows` is read once, when the render reaches the family.
 */
export function rowFamily<R>(name: string, type: FamilyType, help: string, rows: () => readonly R[], write: (row: R, name: Buffer, out: SeriesWriter) => void): Family {
  const nameBytes = Buffer.from(name);
  return {
    name,
    type,
    help,
    open: () => {
      const list = rows();
      let next = 0;
      return (out) => {
        while (next < list.length) {
          write(list[next++] as R, nameBytes, out);
          if (out.full) return next < list.length;
        }
        return false;
      };
    },
  };
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
  const out = new SeriesWriter(seriesPerSlice);
  for (const family of families) {
    out.text(header(family));
    const cursor = family.open();
    while (cursor(out) || out.full) {
      await pause();
      out.nextSlice();
    }
  }
  return out.finish();
}
