// parseServes: every way a serves file can be wrong, said by path without a secret; and both
// serve forms resolved into the one Serve shape.
import * as E from 'fp-ts/Either';
import { inspect } from 'node:util';
import { describeInvalid, FIELD_MAX_CHARS, parseServes, type ServeSet } from '../../src/servedb';
import { LOGPLEX_URL, SERVE_URL, TOKEN, URL_PASSWORD, servesText } from './support';

function problemsOf(text: string, logplexUrl: URL | undefined): readonly string[] {
  const result = parseServes(text, { logplexUrl });
  if (E.isRight(result)) throw new Error('expected the serves file to be refused');
  return result.left.problems;
}

function serveSetOf(text: string, logplexUrl: URL | undefined): ServeSet {
  const result = parseServes(text, { logplexUrl });
  if (E.isLeft(result)) throw new Error(`expected a valid serves file, got: ${result.left.problems.join('\n')}`);
  return result.right;
}

/** No problem may quote a token, a URL password or LOGPLEX_URL's credentials. */
function expectNoSecrets(problems: readonly string[]): void {
  for (const problem of problems) expect(problem).not.toMatch(/SECRET/);
}

describe('parseServes: valid files', () => {
  it('resolves a `t` serve against LOGPLEX_URL, without LOGPLEX_URL`s credentials', () => {
    const [serve] = serveSetOf(servesText([{ i: 'id-1', t: TOKEN, p: '/run/a.sock', name: 'BLUE' }]), LOGPLEX_URL);
    expect(serve?.identity).toBe('id-1');
    expect(serve?.socketPath).toBe('/run/a.sock');
    expect(serve?.name).toBe('BLUE');
    expect(serve?.target.url).toBe('https://logplex.example.com/logs');
    expect(serve?.target.user).toBe('token');
    expect(serve?.target.token.reveal()).toBe(TOKEN);
  });

  it('resolves a `url` serve: credentials move out of the URL into user and token', () => {
    const [serve] = serveSetOf(servesText([{ i: 'id-2', url: SERVE_URL, p: '/run/b.sock' }]), undefined);
    expect(serve?.target.url).toBe('https://logplex.example.com/logs');
    expect(serve?.target.url).not.toContain(URL_PASSWORD);
    expect(serve?.target.user).toBe('token');
    expect(serve?.target.token.reveal()).toBe(URL_PASSWORD);
    expect(serve?.name).toBeUndefined();
  });

  it('percent-decodes URL credentials and keeps any user name', () => {
    const [serve] = serveSetOf(servesText([{ i: '', url: 'http://me%40x:t.a%2Fb@h:8080/logs?x=1', p: '/run/c.sock' }]), LOGPLEX_URL);
    expect(serve?.target).toMatchObject({ url: 'http://h:8080/logs?x=1', user: 'me@x' });
    expect(serve?.target.token.reveal()).toBe('t.a/b');
  });

  it('shows no token when a Serve is printed or turned into JSON', () => {
    const set = serveSetOf(
      servesText([
        { i: 'a', t: TOKEN, p: '/run/a.sock' },
        { i: 'b', url: SERVE_URL, p: '/run/b.sock' },
      ]),
      LOGPLEX_URL,
    );
    expect(JSON.stringify(set)).not.toMatch(/SECRET/);
    expect(inspect(set, { depth: 10 })).not.toMatch(/SECRET/);
    expect(JSON.stringify(set)).toContain('[redacted]');
  });

  it('ignores unknown keys at the top and inside a serve', () => {
    const set = serveSetOf(servesText([{ i: 'a', t: TOKEN, p: '/run/a.sock', owner: 'team-x', n: 3 }], { version: 7, tool: {} }), LOGPLEX_URL);
    expect(set).toHaveLength(1);
    expect(Object.keys(set[0] ?? {}).sort()).toEqual(['identity', 'name', 'socketPath', 'target']);
  });

  it('accepts an empty identity, an empty list, a byte order mark, and treats an empty name as none', () => {
    expect(serveSetOf(servesText([{ i: '', t: TOKEN, p: '/run/a.sock', name: '' }]), LOGPLEX_URL)[0]).toMatchObject({ identity: '', name: undefined });
    expect(serveSetOf('{"serves": []}', LOGPLEX_URL)).toEqual([]);
    expect(serveSetOf('\uFEFF{"serves": []}', LOGPLEX_URL)).toEqual([]);
  });
});

describe('parseServes: refused files, by path and without secrets', () => {
  const cases: ReadonlyArray<readonly [string, string, readonly string[], URL | undefined]> = [
    ['not JSON', '{"serves": [}', ["serves.new is not valid JSON at line 1, column 13: Unexpected token '}'"], LOGPLEX_URL],
    ['not JSON, mid-token', `{"serves": [{"t": "${TOKEN}" "i": 1}]}`, [
      "serves.new is not valid JSON at line 1, column 38: Expected ',' or '}' after property value",
    ], LOGPLEX_URL],
    ['truncated JSON', '{"serves": [', ['serves.new is not valid JSON at line 1, column 13: Unexpected end of JSON input'], LOGPLEX_URL],
    ['an empty file', ' \n', ['serves.new is empty; write {"serves": []} for no serves'], LOGPLEX_URL],
    ['a list at the top', '[]', ['serves.new: expected an object like {"serves": [...]}, got a list'], LOGPLEX_URL],
    ['no serves key', '{"serve": []}', ['serves: missing, expected a list'], LOGPLEX_URL],
    ['serves not a list', '{"serves": 3}', ['serves: expected a list, got 3'], LOGPLEX_URL],
    ['a serve that is not an object', '{"serves": [7]}', ['serves[0]: expected an object, got 7'], LOGPLEX_URL],
    ['a mistyped p', servesText([{ i: 'a', t: TOKEN, p: '/run/a.sock' }, { i: 'b', t: TOKEN, p: 42 }]), [
      'serves[1].p: expected a string, got 42',
    ], LOGPLEX_URL],
    ['a missing i', servesText([{ t: TOKEN, p: '/run/a.sock' } as never]), ['serves[0].i: missing, expected a string'], LOGPLEX_URL],
    ['a mistyped t, not echoed', servesText([{ i: 'a', t: 12345, p: '/run/a.sock' }]), [
      'serves[0].t: expected a string, got a number',
    ], LOGPLEX_URL],
    ['a mistyped name', servesText([{ i: 'a', t: TOKEN, p: '/run/a.sock', name: true }]), [
      'serves[0].name: expected a string, got true',
    ], LOGPLEX_URL],
    ['both t and url', servesText([{ i: 'a', t: TOKEN, url: SERVE_URL, p: '/run/a.sock' }]), [
      'serves[0]: needs exactly one of "t" (token) or "url", got both',
    ], LOGPLEX_URL],
    ['neither t nor url', servesText([{ i: 'a', p: '/run/a.sock' }]), [
      'serves[0]: needs exactly one of "t" (token) or "url", got neither',
    ], LOGPLEX_URL],
    ['a relative p', servesText([{ i: 'a', t: TOKEN, p: 'run/a.sock' }]), [
      'serves[0].p: must be an absolute path, got "run/a.so…(10 chars)"',
    ], LOGPLEX_URL],
    ['a duplicate p', servesText([
      { i: 'a', t: TOKEN, p: '/a/b.sock' },
      { i: 'b', t: TOKEN, p: '/a/c.sock' },
      { i: 'c', t: TOKEN, p: '/a//b.sock' },
    ]), ['serves[2].p: "/a//b.sock" is also used by serves[0]'], LOGPLEX_URL],
    ['a p too long for a socket', servesText([{ i: 'a', t: TOKEN, p: `/${'x'.repeat(120)}` }]), [
      'serves[0].p: is 121 bytes long, a unix socket path may have at most 107',
    ], LOGPLEX_URL],
    ['a URL that does not parse', servesText([{ i: 'a', url: `https://token:${URL_PASSWORD}@ bad host/`, p: '/run/a.sock' }]), [
      'serves[0].url: not a valid http(s) URL, expected e.g. https://token:<token>@logplex.example.com/logs',
    ], LOGPLEX_URL],
    ['a URL that is not http(s)', servesText([{ i: 'a', url: `ftp://token:${URL_PASSWORD}@h/`, p: '/run/a.sock' }]), [
      'serves[0].url: must be an http: or https: URL',
    ], LOGPLEX_URL],
    ['a URL without credentials', servesText([{ i: 'a', url: 'https://token@logplex.example.com/logs', p: '/run/a.sock' }]), [
      'serves[0].url: needs credentials, like https://token:<token>@logplex.example.com/logs',
    ], LOGPLEX_URL],
    ['a mistyped url, not echoed', servesText([{ i: 'a', url: 99, p: '/run/a.sock' }]), [
      'serves[0].url: expected a string, got a number',
    ], LOGPLEX_URL],
    ['a token with a space', servesText([{ i: 'a', t: 't.SECRET x', p: '/run/a.sock' }]), [
      'serves[0].t: must be printable ASCII without spaces (it becomes the syslog APP-NAME)',
    ], LOGPLEX_URL],
    ['an empty token', servesText([{ i: 'a', t: '', p: '/run/a.sock' }]), ['serves[0].t: must not be empty'], LOGPLEX_URL],
    ['a t serve without LOGPLEX_URL', servesText([{ i: 'a', url: SERVE_URL, p: '/run/b.sock' }, { i: 'b', t: TOKEN, p: '/run/a.sock' }]), [
      'serves[1].t: a token needs LOGPLEX_URL to be set (or give this serve a "url" instead)',
    ], undefined],
  ];

  it.each(cases)('refuses %s', (_what, text, expected, logplexUrl) => {
    const problems = problemsOf(text, logplexUrl);
    expect(problems).toEqual(expected);
    expectNoSecrets(problems);
  });

  it('reports every problem of every serve, one per line', () => {
    const text = servesText([
      { i: 1, t: TOKEN, p: 'x' },
      { i: 'ok', t: TOKEN, p: '/ok.sock' },
      { i: 'b', p: '/b.sock', url: 'nope' },
    ]);
    const problems = problemsOf(text, LOGPLEX_URL);
    expect(problems).toEqual([
      'serves[0].i: expected a string, got 1',
      'serves[2].url: not a valid http(s) URL, expected e.g. https://token:<token>@logplex.example.com/logs',
    ]);
    expect(describeInvalid({ problems })).toBe(problems.join('\n'));
  });

  it('caps the description at a few lines and says how many more', () => {
    const serves = Array.from({ length: 30 }, (_, n) => ({ i: 'x', t: TOKEN, p: `rel${n}` }));
    const text = describeInvalid({ problems: problemsOf(servesText(serves), LOGPLEX_URL) }, 20);
    expect(text.split('\n')).toHaveLength(21);
    expect(text.endsWith('(and 10 more)')).toBe(true);
  });

  it('does not quote the text around a JSON error, which may hold a token', () => {
    const long = `{"serves": [{"i": "a", "p": "/a.sock", "t": "${TOKEN}"}]} trailing ${TOKEN}`;
    for (const text of [long, `{"serves": [{"t": "${TOKEN}"}}`, `{"t": "${TOKEN}\n"}`, `{"serves": ${TOKEN}}`]) {
      const problems = problemsOf(text, LOGPLEX_URL);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^serves\.new is not valid JSON at line \d+, column \d+: /);
      expectNoSecrets(problems);
    }
  });

  it('quotes at most 8 characters of a rejected value: a token typed into p stays unsaid', () => {
    const pasted = 't.5ec7e7ab-1234-4000-8000-00000000beef';
    expect(problemsOf(servesText([{ i: 'a', t: TOKEN, p: pasted }]), LOGPLEX_URL)).toEqual([
      'serves[0].p: must be an absolute path, got "t.5ec7e7…(38 chars)"',
    ]);
    // A 1 MiB p costs a line, not a megabyte, and control characters stay escaped.
    const [huge] = problemsOf(servesText([{ i: 'a', t: TOKEN, p: `\x1b[2J${'x'.repeat(1 << 20)}` }]), LOGPLEX_URL);
    expect(huge).toBe('serves[0].p: must be an absolute path, got "\\u001b[2Jxxxx…(1048580 chars)"');
    // Those JSON leaves raw too: a right-to-left override, a C1 escape, a line separator.
    const [bidi] = problemsOf(servesText([{ i: 'a', t: TOKEN, p: 'a\u202eb\x9bc\u2028' }]), LOGPLEX_URL);
    expect(bidi).toBe('serves[0].p: must be an absolute path, got "a\\u202eb\\u009bc\\u2028"');
  });

  it('quotes no part of the serve\'s t or url, wherever it was pasted', () => {
    // The token in both t and p (p is refused; t would be fine): p's problem does not quote it.
    const both = problemsOf(servesText([{ i: 'a', t: TOKEN, p: TOKEN }]), LOGPLEX_URL);
    expect(both).toEqual(['serves[0].p: must be an absolute path, got a value of 16 characters like its "t" or "url"']);
    expect(both[0]).not.toContain(TOKEN.slice(0, 3));
    // A URL's scheme is the start of the URL, which may be a token pasted whole.
    expect(problemsOf(servesText([{ i: 'a', url: 'tSECRETx://u:p@h/', p: '/run/a.sock' }]), LOGPLEX_URL)).toEqual([
      'serves[0].url: must be an http: or https: URL',
    ]);
    // A token pasted without quotes breaks the JSON; V8 would name its character.
    for (const text of ['{"serves": [{"t": t.SECRET}]}', '{"serves": [{"t": SECRET}]}']) {
      const [problem] = problemsOf(text, LOGPLEX_URL);
      expect(problem).toMatch(/^serves\.new is not valid JSON at line 1, column \d+: Unexpected character$/);
    }
  });

  it('names the file it was told, for serves.loaded at start-up', () => {
    const result = parseServes('nope', { logplexUrl: undefined, fileName: 'serves.loaded' });
    expect(E.isLeft(result) && result.left.problems[0]).toMatch(/^serves\.loaded is not valid JSON/);
  });
});

describe('parseServes: field lengths', () => {
  const at = (n: number, c = 'x'): string => c.repeat(n);

  it('refuses an identity, name, token or url over its bound, saying which and how long, quoting none of it', () => {
    const longToken = `t.SECRET${at(FIELD_MAX_CHARS.t)}`;
    const longUrl = `https://token:SECRET@logplex.example.com/${at(FIELD_MAX_CHARS.url)}`;
    const problems = problemsOf(
      servesText([
        { i: at(70_000), t: TOKEN, p: '/run/a.sock' },
        { i: 'b', t: TOKEN, p: '/run/b.sock', name: at(FIELD_MAX_CHARS.name + 1) },
        { i: 'c', t: longToken, p: '/run/c.sock' },
        { i: 'd', url: longUrl, p: '/run/d.sock' },
      ]),
      LOGPLEX_URL,
    );
    expect(problems).toEqual([
      `serves[0].i: is 70000 characters long, at most ${FIELD_MAX_CHARS.i} are allowed`,
      `serves[1].name: is ${FIELD_MAX_CHARS.name + 1} characters long, at most ${FIELD_MAX_CHARS.name} are allowed`,
      `serves[2].t: is ${longToken.length} characters long, at most ${FIELD_MAX_CHARS.t} are allowed`,
      `serves[3].url: is ${longUrl.length} characters long, at most ${FIELD_MAX_CHARS.url} are allowed`,
    ]);
    expectNoSecrets(problems);
  });

  it('accepts every field at its bound', () => {
    const url = `https://token:${URL_PASSWORD}@logplex.example.com/`;
    const set = serveSetOf(
      servesText([
        { i: at(FIELD_MAX_CHARS.i), t: `t.${at(FIELD_MAX_CHARS.t - 2)}`, p: '/run/a.sock', name: at(FIELD_MAX_CHARS.name) },
        { i: 'b', url: url + at(FIELD_MAX_CHARS.url - url.length), p: '/run/b.sock' },
      ]),
      LOGPLEX_URL,
    );
    expect(set.map((s) => s.identity.length)).toEqual([FIELD_MAX_CHARS.i, 1]);
  });
});
