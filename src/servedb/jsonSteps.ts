// JSON.parse of a serves file, in steps (steps.ts). One JSON.parse of 10,000 serves (about
// 700 KB) is a single stretch of 5-20 ms on an idle machine, and on a busy one the process is
// descheduled inside it: 80 ms without a turn of the event loop. So the text is first scanned
// for the top-level `serves` list (a few kilobytes of it per step), then every entry is parsed
// on its own (SERVES_PER_STEP per step), and the rest of the document (the list left empty)
// once. JSON values do not depend on what surrounds them, so the result is the one JSON.parse
// gives; whenever anything does not fit (a syntax error, no `serves` list, a scan it cannot
// follow) the whole text goes to JSON.parse, which then says what it always says.
import { eachInSteps, type Steps } from './steps';

/** Characters scanned between two turns: a fraction of a millisecond. */
const CHARS_PER_STEP = 64 * 1024;

/** Where the top-level `serves` list is: the list `[start, end)`, and each entry's text. */
interface ServesLayout {
  readonly start: number;
  readonly end: number;
  readonly entries: ReadonlyArray<readonly [number, number]>;
}

/** JSON.parse(text), as steps: the same value, or the same SyntaxError. */
export function* parseJsonInSteps(text: string): Steps<unknown> {
  const layout = yield* findServes(text);
  if (layout === undefined) return JSON.parse(text);
  let document: unknown;
  const serves: unknown[] = [];
  try {
    document = JSON.parse(`${text.slice(0, layout.start)}[]${text.slice(layout.end)}`);
    yield* eachInSteps(layout.entries, ([from, to]) => void serves.push(JSON.parse(text.slice(from, to))));
  } catch {
    return JSON.parse(text); // throws what JSON.parse says of the whole file (jsonError.ts locates it)
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) return JSON.parse(text);
  (document as { serves: unknown }).serves = serves; // in place of the `[]` left for it
  return document;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;

const isSpace = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

/** Where the string opened at `open` closes, or -1. */
function closingQuote(text: string, open: number): number {
  let at = text.indexOf('"', open + 1);
  for (;;) {
    if (at < 0) return -1;
    let backslashes = 0;
    while (text.charCodeAt(at - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return at;
    at = text.indexOf('"', at + 1);
  }
}

/**
 * The layout of the last `serves` key of a top-level object, when its value is a list; undefined
 * otherwise (not an object, no such key, its value not a list, or text the scan cannot follow).
 * Only structure is followed; whether the text is valid JSON is JSON.parse's to say.
 */
function* findServes(text: string): Steps<ServesLayout | undefined> {
  let pos = 0;
  while (pos < text.length && isSpace(text.charCodeAt(pos))) pos++;
  if (text.charCodeAt(pos) !== 0x7b) return undefined; // `{`
  let depth = 0;
  let expectKey = false; // in the top-level object, the next string is a key
  let key: string | undefined; // the top-level key whose value comes next
  let servesAt = -1; // where the value of a `serves` key starts
  let layout: ServesLayout | undefined;
  let list: { readonly start: number; entryStart: number; readonly entries: Array<readonly [number, number]> } | undefined;
  let nextStep = CHARS_PER_STEP;
  for (; pos < text.length; pos++) {
    if (pos >= nextStep) {
      yield;
      nextStep = pos + CHARS_PER_STEP;
    }
    const c = text.charCodeAt(pos);
    if (c === QUOTE) {
      const close = closingQuote(text, pos);
      if (close < 0) return undefined;
      if (depth === 1 && expectKey) {
        try {
          key = JSON.parse(text.slice(pos, close + 1)) as string;
        } catch {
          return undefined;
        }
        expectKey = false;
        if (key === 'serves') layout = undefined; // a later `serves` replaces an earlier one
      }
      pos = close;
    } else if (c === COLON) {
      if (depth === 1 && key === 'serves') {
        servesAt = pos + 1;
        while (servesAt < text.length && isSpace(text.charCodeAt(servesAt))) servesAt++;
      }
      key = undefined;
    } else if (c === 0x7b || c === 0x5b) {
      // `{` or `[`
      if (depth === 1 && c === 0x5b && pos === servesAt) list = { start: pos, entryStart: pos + 1, entries: [] };
      depth++;
      if (depth === 1) expectKey = true;
    } else if (c === 0x7d || c === 0x5d) {
      // `}` or `]`
      if (list !== undefined && depth === 2) {
        if (c !== 0x5d) return undefined;
        const last = text.slice(list.entryStart, pos);
        if (list.entries.length > 0 || last.trim() !== '') list.entries.push([list.entryStart, pos]);
        layout = { start: list.start, end: pos + 1, entries: list.entries };
        list = undefined;
      }
      depth--;
      if (depth < 0) return undefined;
      if (depth === 0) {
        while (++pos < text.length && isSpace(text.charCodeAt(pos)));
        return pos === text.length ? layout : undefined;
      }
    } else if (c === COMMA) {
      if (depth === 1) expectKey = true;
      else if (depth === 2 && list !== undefined) {
        list.entries.push([list.entryStart, pos]);
        list.entryStart = pos + 1;
      }
    }
  }
  return undefined;
}
