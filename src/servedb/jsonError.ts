// Where a serves file stops being JSON, said without quoting it. V8's own messages are not
// enough on Node 20: "Unexpected token" quotes a stretch of the input around the error (which
// may hold a token) and gives no position, so we strip the quote and find the position with a
// small scanner of our own. It runs only after JSON.parse failed, so it need not be fast.

export interface JsonErrorDescription {
  readonly where: string | undefined; // `line 3, column 14`, when it could be found
  readonly reason: string; // V8's reason without any quoted input: `Unexpected token '}'`, `Unexpected character`
}

/** Where and why `text` is not JSON, given the error JSON.parse threw for it. */
export function describeJsonError(text: string, err: unknown): JsonErrorDescription {
  const message = typeof err === 'object' && err !== null && 'message' in err ? err.message : undefined;
  const raw = typeof message === 'string' ? message : String(err);
  const v8Position = /at position (\d+)/.exec(raw);
  const offset = v8Position !== null ? Number(v8Position[1]) : firstJsonErrorOffset(text);
  return { where: offset === undefined ? undefined : lineAndColumn(text, offset), reason: sanitizeReason(raw) };
}

// The characters V8 may name in `Unexpected token 'x'` that are JSON's own punctuation. Any other
// one is a character of the input outside a string, often a token pasted without its quotes
// (`{"t": t.abc}` is "Unexpected token '.'"): not named.
const STRUCTURAL = new Set(['{', '}', '[', ']', ',', ':']);

/** V8's reason with any quoted input and position removed. */
function sanitizeReason(message: string): string {
  // `Unexpected token '}', "{"serves": [}" is not valid JSON` (long inputs: `..."…"...`)
  const quoted = /^Unexpected token '(.+?)', .*is not valid JSON$/s.exec(message);
  let reason = message;
  if (quoted !== null) {
    const token = quoted[1] ?? '';
    reason = STRUCTURAL.has(token) ? `Unexpected token '${token}'` : 'Unexpected character';
  }
  reason = reason.replace(/\s*(in JSON )?at position \d+.*$/s, '').replace(/\s*in JSON$/, '');
  // Belt and braces for message formats we have not seen: never pass on a double quote, as it
  // would open a quotation of the input.
  const quote = reason.indexOf('"');
  if (quote >= 0) reason = reason.slice(0, quote).replace(/[\s,:]+$/, '');
  return reason === '' ? 'not JSON' : reason;
}

function lineAndColumn(text: string, offset: number): string {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  return `line ${line}, column ${offset - lineStart + 1}`;
}

const MAX_DEPTH = 512; // past this we give up locating rather than risk the stack

/** Offset of the first character that makes `text` invalid JSON; undefined if valid or unknown. */
export function firstJsonErrorOffset(text: string): number | undefined {
  let i = 0;
  const skipSpace = (): void => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const string = (): boolean => {
    i++; // the opening quote
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return true;
      }
      if (c < 0x20) return false;
      if (c === 0x5c) {
        const escape = text[i + 1] ?? '';
        if ('"\\/bfnrt'.includes(escape) && escape !== '') i += 2;
        else if (escape === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) i += 6;
        else return ((i += 1), false);
      } else i++;
    }
    return false;
  };
  const number = (): boolean => {
    const re = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
    re.lastIndex = i;
    if (!re.test(text)) return false;
    i = re.lastIndex;
    return true;
  };
  const container = (close: string, member: () => boolean): boolean => {
    i++; // the opening bracket
    skipSpace();
    if (text[i] === close) return ((i += 1), true);
    for (;;) {
      if (!member()) return false;
      skipSpace();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === close) return ((i += 1), true);
      return false;
    }
  };
  const value = (depth: number): boolean | 'too deep' => {
    if (depth > MAX_DEPTH) return 'too deep';
    skipSpace();
    const c = text[i];
    let deep = false;
    const nested = (): boolean => {
      const r = value(depth + 1);
      if (r === 'too deep') deep = true;
      return r === true;
    };
    let ok: boolean;
    if (c === '{') {
      ok = container('}', () => {
        skipSpace();
        if (text[i] !== '"' || !string()) return false;
        skipSpace();
        if (text[i] !== ':') return false;
        i++;
        return nested();
      });
    } else if (c === '[') {
      ok = container(']', nested);
    } else if (c === '"') {
      ok = string();
    } else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) {
      ok = number();
    } else {
      const literal = ['true', 'false', 'null'].find((l) => text.startsWith(l, i));
      ok = literal !== undefined;
      if (literal !== undefined) i += literal.length;
    }
    return deep ? 'too deep' : ok;
  };
  const result = value(0);
  if (result === 'too deep') return undefined;
  if (!result) return i;
  skipSpace();
  return i < text.length ? i : undefined;
}
