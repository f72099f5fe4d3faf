// serves.new text in, a ServeSet or every problem out, with no I/O: the same function checks
// serves.new on reload and serves.loaded at start-up. Problems are sentences a person can act
// on, each starting with where (`serves[1].p: expected a string, got 42`). They never contain a
// token or URL credentials: values under `t` and `url` are described by type only, no part of a
// bad URL is repeated, and JSON syntax errors are located without quoting the text. Any other
// value is quoted by its first QUOTED_CHARS characters at most (`"t.5ec7e7…(38 chars)"`): a
// token typed into `p` in error must not reach last_error, our log or a start-up error.
//
// Decisions beyond the spec, each for the operator's sake:
// - An empty identity (`"i": ""`) is allowed: it is logfebe.identity's default, so a cluster
//   that never set one can still be served.
// - An empty `name` means no name (the default label), as if the key were absent.
// - A token (`t`, or a URL's password) must be printable ASCII without spaces: it becomes the
//   syslog APP-NAME, where a space would corrupt every frame.
// - A socket path longer than a unix socket address can hold is refused here, where the whole
//   file is checked, rather than failing to listen later.
// - Every other string has a length bound (FIELD_MAX_CHARS), far above any real one: a serve is
//   carried in every spooled batch, every event and every metric label, and nothing downstream
//   should have to cope with a 70,000-character name.
import * as path from 'node:path';
import * as E from 'fp-ts/Either';
import * as t from 'io-ts';
import { quoteVisibly } from '../quote';
import { Secret } from '../secret';
import { RawServeCodec, SECRET_KEYS, ServesDocumentCodec, type RawServe } from './codec';
import { describeJsonError } from './jsonError';
import { parseJsonInSteps } from './jsonSteps';
import type { LogplexTarget, Serve, ServeSet } from './serve';
import { eachInSteps, runToEnd, type Steps } from './steps';

export interface ParseServesOptions {
  readonly logplexUrl: URL | undefined; // LOGPLEX_URL, for serves with `t`; may carry credentials
  readonly fileName?: string; // how messages name the document: `serves.new` unless told
}

/** Why a serves file was refused: at least one problem, one sentence each. */
export interface ServesInvalid {
  readonly problems: readonly string[];
}

/** Linux's sun_path holds 108 bytes including the terminating NUL. */
export const MAX_SOCKET_PATH_BYTES = 107;

/**
 * The longest value each field may hold, in characters. Identities and names are labels a person
 * types; logplex tokens are ~40 characters; URLs stay below what proxies accept (8 KiB).
 */
export const FIELD_MAX_CHARS = { i: 1024, name: 256, t: 1024, url: 4096 } as const;

const TOKEN_CHARS = /^[\x21-\x7e]+$/; // printable ASCII, no space: fits a syslog APP-NAME

// Enough to recognise `run/a.so` or `/tmp/pg…` as what one wrote, too few to make a token of
// (`t.` and six characters of 36).
const QUOTED_CHARS = 8;

/**
 * A rejected value as problems quote it: its first QUOTED_CHARS characters, and its length if
 * cut. Not quoted at all when it overlaps one of `secrets` (the serve's `t` and `url`, pasted
 * into another field as well).
 */
export function quoteRejected(value: string, secrets: readonly string[] = []): string {
  if (overlapsSecret(value, secrets)) {
    return `a value of ${value.length} characters like its "t" or "url"`;
  }
  if (value.length <= QUOTED_CHARS) return quoteVisibly(value);
  return `${quoteVisibly(value.slice(0, QUOTED_CHARS)).slice(0, -1)}…(${value.length} chars)"`;
}

/**
 * An absolute socket path as problems quote it: whole, since a path is not a secret and a cut one
 * does not tell the operator which entry to fix (a token typed into `p` is no absolute path: it
 * is refused as relative, and quoted cut). Still never one overlapping the serve's `t` or `url`.
 */
function quotePath(socketPath: string, secrets: readonly string[]): string {
  return overlapsSecret(socketPath, secrets) ? quoteRejected(socketPath, secrets) : quoteVisibly(socketPath);
}

const overlapsSecret = (value: string, secrets: readonly string[]): boolean =>
  secrets.some((secret) => secret !== '' && (value.includes(secret) || secret.includes(value)));

/** Checks a serves file in one go (start-up, check-serves): parseServesInSteps run to its end. */
export function parseServes(text: string, options: ParseServesOptions): E.Either<ServesInvalid, ServeSet> {
  return runToEnd(parseServesInSteps(text, options));
}

/**
 * parseServes as steps (steps.ts): the JSON, then the serves, SERVES_PER_STEP at a time, so
 * that a running pass can let the event loop turn between them.
 */
export function* parseServesInSteps(text: string, options: ParseServesOptions): Steps<E.Either<ServesInvalid, ServeSet>> {
  const fileName = options.fileName ?? 'serves.new';
  const invalid = (problems: readonly string[]): E.Either<ServesInvalid, ServeSet> => E.left({ problems });

  // Editors on some systems start files with a byte order mark, which JSON.parse refuses.
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (body.trim() === '') return invalid([`${fileName} is empty; write {"serves": []} for no serves`]);
  let json: unknown;
  try {
    json = yield* parseJsonInSteps(body);
  } catch (err) {
    const { where, reason } = describeJsonError(body, err);
    return invalid([`${fileName} is not valid JSON${where === undefined ? '' : ` at ${where}`}: ${reason}`]);
  }

  const document = ServesDocumentCodec.decode(json);
  if (E.isLeft(document)) {
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      return invalid([`${fileName}: expected an object like {"serves": [...]}, got ${describeValue(json, false)}`]);
    }
    return invalid(reportDecodeErrors(document.left, ''));
  }

  // LOGPLEX_URL without its credentials, made once: one URL object per `t` serve was a third of
  // this function's time at 10,000 serves.
  const tokenEndpoint = options.logplexUrl === undefined ? undefined : withoutCredentials(options.logplexUrl);
  const problems: string[] = [];
  const serves: Serve[] = [];
  const firstUse = new Map<string, number>(); // resolved socket path -> index that first used it
  yield* eachInSteps(document.right.serves, (entry, index) => {
    const where = `serves[${index}]`;
    const decoded = looksLikeRawServe(entry) ? E.right(entry) : RawServeCodec.decode(entry);
    if (E.isLeft(decoded)) {
      problems.push(...reportDecodeErrors(decoded.left, where));
      return;
    }
    const raw = decoded.right;
    const serveProblems: string[] = [];
    const secrets = [raw.t, raw.url].filter((v): v is string => v !== undefined);
    checkSocketPath(raw.p, where, secrets, serveProblems);
    const tooLong = checkLengths(raw, where, serveProblems);
    const target = tooLong ? undefined : resolveTarget(raw, where, tokenEndpoint, serveProblems);
    if (path.isAbsolute(raw.p)) {
      // Compared resolved so that `/run//a.sock` and `/run/a.sock` count as the same socket.
      const key = path.resolve(raw.p);
      const earlier = firstUse.get(key);
      if (earlier !== undefined) serveProblems.push(`${where}.p: ${quotePath(raw.p, secrets)} is also used by serves[${earlier}]`);
      else firstUse.set(key, index);
    }
    if (serveProblems.length > 0 || target === undefined) {
      problems.push(...serveProblems);
      return;
    }
    serves.push({
      identity: raw.i,
      socketPath: raw.p,
      name: raw.name === undefined || raw.name === '' ? undefined : raw.name,
      target,
    });
  });
  return problems.length > 0 ? invalid(problems) : E.right(serves);
}

/**
 * The check RawServeCodec makes, by hand: an entry that passes is what the codec would return
 * (t.type hands valid input back as is), so only a bad entry pays for io-ts, which then says what
 * is wrong. io-ts was two thirds of parsing 10,000 serves, and parsing runs in one go on the loop.
 */
function looksLikeRawServe(entry: unknown): entry is RawServe {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return false;
  const e = entry as Record<string, unknown>;
  const optional = (v: unknown): boolean => v === undefined || typeof v === 'string';
  return typeof e.i === 'string' && typeof e.p === 'string' && optional(e.t) && optional(e.url) && optional(e.name);
}

/** The problems one per line, the first `maxLines` of them: what last_error and events carry. */
export function describeInvalid(invalid: ServesInvalid, maxLines = 20): string {
  const shown = invalid.problems.slice(0, maxLines);
  const more = invalid.problems.length - shown.length;
  return more > 0 ? [...shown, `(and ${more} more)`].join('\n') : shown.join('\n');
}

/**
 * Adds a problem for each field over its FIELD_MAX_CHARS; true when there was one. Only the length
 * is said: the value may be a token, and quoting its start would not help find it anyway.
 */
function checkLengths(raw: RawServe, where: string, problems: string[]): boolean {
  let found = false;
  for (const key of ['i', 'name', 't', 'url'] as const) {
    const value = raw[key];
    const max = FIELD_MAX_CHARS[key];
    if (value === undefined || value.length <= max) continue;
    problems.push(`${where}.${key}: is ${value.length} characters long, at most ${max} are allowed`);
    found = true;
  }
  return found;
}

function checkSocketPath(p: string, where: string, secrets: readonly string[], problems: string[]): void {
  if (!path.isAbsolute(p)) {
    problems.push(`${where}.p: must be an absolute path, got ${quoteRejected(p, secrets)}`);
  } else if (p.includes('\0')) {
    problems.push(`${where}.p: must not contain a NUL character`);
  } else if (Buffer.byteLength(p) > MAX_SOCKET_PATH_BYTES) {
    problems.push(
      `${where}.p: is ${Buffer.byteLength(p)} bytes long, a unix socket path may have at most ${MAX_SOCKET_PATH_BYTES}`,
    );
  }
}

/** `tokenEndpoint`: LOGPLEX_URL without credentials, for `t` serves (undefined when not set). */
function resolveTarget(raw: RawServe, where: string, tokenEndpoint: string | undefined, problems: string[]): LogplexTarget | undefined {
  if (raw.t !== undefined && raw.url !== undefined) {
    problems.push(`${where}: needs exactly one of "t" (token) or "url", got both`);
    return undefined;
  }
  if (raw.t !== undefined) {
    if (!checkToken(raw.t, `${where}.t`, problems)) return undefined;
    if (tokenEndpoint === undefined) {
      problems.push(`${where}.t: a token needs LOGPLEX_URL to be set (or give this serve a "url" instead)`);
      return undefined;
    }
    return { url: tokenEndpoint, user: 'token', token: new Secret(raw.t) };
  }
  if (raw.url !== undefined) return resolveUrl(raw.url, `${where}.url`, problems);
  problems.push(`${where}: needs exactly one of "t" (token) or "url", got neither`);
  return undefined;
}

function resolveUrl(text: string, where: string, problems: string[]): LogplexTarget | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // Not repeated: a URL that does not parse may still hold a password.
    problems.push(`${where}: not a valid http(s) URL, expected e.g. https://token:<token>@logplex.example.com/logs`);
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    // Not even the scheme: it is the start of the serve's URL, which can be a token pasted whole.
    problems.push(`${where}: must be an http: or https: URL`);
    return undefined;
  }
  if (url.password === '') {
    problems.push(`${where}: needs credentials, like https://token:<token>@logplex.example.com/logs`);
    return undefined;
  }
  let user: string;
  let password: string;
  try {
    user = decodeURIComponent(url.username);
    password = decodeURIComponent(url.password);
  } catch {
    problems.push(`${where}: the credentials are not valid percent-encoding`);
    return undefined;
  }
  if (!checkToken(password, `${where} password`, problems)) return undefined;
  return { url: withoutCredentials(url), user, token: new Secret(password) };
}

function checkToken(token: string, where: string, problems: string[]): boolean {
  if (token === '') {
    problems.push(`${where}: must not be empty`);
    return false;
  }
  if (!TOKEN_CHARS.test(token)) {
    problems.push(`${where}: must be printable ASCII without spaces (it becomes the syslog APP-NAME)`);
    return false;
  }
  return true;
}

/** The URL as text with user and password removed: safe to log and to compare. */
export function withoutCredentials(url: URL): string {
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  return copy.href;
}

// --- a small reporter over io-ts errors ---------------------------------------------------

function reportDecodeErrors(errors: t.Errors, base: string): string[] {
  // An entry that is not an object fails both halves of the intersection the same way: say it once.
  return [...new Set(errors.map((error) => describeDecodeError(error, base)))];
}

function describeDecodeError(error: t.ValidationError, base: string): string {
  const leaf = error.context[error.context.length - 1];
  const where = contextPath(error.context, base);
  const expected = leaf === undefined ? 'something else' : expectedOf(leaf.type);
  if (error.value === undefined) return `${where}: missing, expected ${expected}`;
  return `${where}: expected ${expected}, got ${describeValue(error.value, SECRET_KEYS.has(leaf?.key ?? ''))}`;
}

/** `serves[0].p` from io-ts's context (root, then one entry per step down). */
function contextPath(context: t.Context, base: string): string {
  let where = base;
  for (let i = 1; i < context.length; i++) {
    const parent = context[i - 1]?.type;
    const key = context[i]?.key ?? '';
    // Intersections and unions step into their members by index: not a step in the document.
    if (parent instanceof t.IntersectionType || parent instanceof t.UnionType) continue;
    where += parent instanceof t.ArrayType || parent === t.UnknownArray ? `[${key}]` : `.${key}`;
  }
  return where.startsWith('.') ? where.slice(1) : where; // `serves`, not `.serves`, at the top
}

function expectedOf(type: t.Decoder<unknown, unknown>): string {
  if (type instanceof t.StringType) return 'a string';
  if (type instanceof t.ArrayType || type === t.UnknownArray) return 'a list';
  if (type instanceof t.InterfaceType || type instanceof t.PartialType || type instanceof t.IntersectionType) {
    return 'an object';
  }
  return type.name;
}

/**
 * What was found instead, without echoing anything that could be secret: strings are never
 * quoted (one in the wrong place may be a misplaced token), numbers and booleans only outside
 * `t` and `url`.
 */
function describeValue(value: unknown, secret: boolean): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string':
      return 'a string';
    case 'number':
      return secret ? 'a number' : String(value);
    case 'boolean':
      return secret ? 'a boolean' : String(value);
    case 'object':
      return 'an object';
    default:
      return typeof value;
  }
}
