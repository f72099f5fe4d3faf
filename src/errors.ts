// The one base of every error this package throws on purpose, as undici does it: a stable
// `code` that alerting, an embedder or a test keys on (messages may be reworded, codes may not),
// and a one-line message that says what to fix. `instanceof CollectorError` tells an embedder
// "this is ours, read its code" without knowing each stage's class.

export abstract class CollectorError extends Error {
  abstract readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * An option a stage refuses, from code that resolves options (the daemon's flags are checked
 * before they get here and say the flag's name instead).
 */
export class OptionsError extends CollectorError {
  readonly code = 'OPTIONS_INVALID';
  override readonly name = 'OptionsError';
}

/**
 * The errno code (`ENOENT`, `EACCES`, ...) of a Node system error, if it is one. Not
 * `instanceof Error`: errors from Node's internals may come from another realm (vm, jest).
 */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code: unknown = err.code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}
