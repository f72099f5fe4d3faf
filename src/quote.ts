// Quoting text that may come from someone else (a peer's identity, a value in serves.new) for a
// person to read: as a JSON string, with every control or invisible character escaped. JSON
// already escapes C0 controls, quotes and backslashes; DEL, the C1 controls (0x9b starts a
// terminal escape on its own), format characters (bidi overrides, zero-width) and the line and
// paragraph separators it leaves raw, and a terminal or an editor would act on them.
const INVISIBLE = /[\x7f-\x9f\p{Cf}\u2028\u2029]/gu;

/** `json` (JSON text) with the invisible characters JSON.stringify left raw written as `\uXXXX`. */
export function escapeInvisible(json: string): string {
  return json.replace(INVISIBLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** `s` as a JSON string literal that shows every character it holds. */
export function quoteVisibly(s: string): string {
  return escapeInvisible(JSON.stringify(s));
}
