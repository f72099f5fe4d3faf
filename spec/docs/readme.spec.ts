// README.md is the user's page, and what it shows must work: its TypeScript examples compile
// against the package as an embedder imports it, the shell blocks marked as runnable run, its
// serve database example is accepted, and its flags table names every flag --help names with
// its environment variable. The docs and source comments say what and why, never when or who.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as ts from 'typescript';
import { parseServes } from '../../src/servedb/validate';

const ROOT = resolve(__dirname, '../..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
/** The comment that marks a shell block as run by this spec; it stands on the line before the fence. */
const RUNS_MARK = '<!-- runs in spec/docs/readme.spec.ts -->';

interface Block {
  readonly info: string; // the fence's info string: `ts`, `sh`, ...
  readonly code: string;
  readonly line: number; // 1-based line of the opening fence
  readonly runs: boolean; // preceded by RUNS_MARK
}

/** Every fenced code block of a markdown text. */
function codeBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    const open = /^```(\S*)/.exec(lines[i] ?? '');
    if (open === null) continue;
    const end = lines.findIndex((l, j) => j > i && l.startsWith('```'));
    if (end < 0) throw new Error(`README.md:${i + 1}: code block never closed`);
    blocks.push({ info: open[1] ?? '', code: lines.slice(i + 1, end).join('\n'), line: i + 1, runs: lines[i - 1]?.trim() === RUNS_MARK });
    i = end;
  }
  return blocks;
}

/**
 * Type-checks each snippet as a module of an embedder's project in which `pg-logplexcollector` is
 * this package (its package.json "exports", so dist/ as built): the diagnostics, one line each.
 */
function typeCheck(snippets: ReadonlyArray<{ name: string; code: string }>): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'plc-readme-ts-'));
  try {
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(ROOT, join(dir, 'node_modules', 'pg-logplexcollector'));
    const files = snippets.map(({ name, code }) => {
      const file = join(dir, `${name}.ts`);
      writeFileSync(file, code);
      return file;
    });
    const program = ts.createProgram(files, {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext, // top-level await, as an ESM app or a bundler has it
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      lib: ['lib.es2022.d.ts'],
      types: ['node'],
      typeRoots: [join(ROOT, 'node_modules', '@types')],
      strict: true,
      noEmit: true,
      skipLibCheck: true,
    });
    return ts
      .getPreEmitDiagnostics(program)
      .map((d) => {
        const where = d.file === undefined || d.start === undefined ? '' : `${d.file.fileName.slice(dir.length + 1)}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}: `;
        return `${where}${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
      });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('README.md', () => {
  const blocks = codeBlocks(README);

  it('is a page a user reads: at most 400 lines', () => {
    expect(README.split('\n').length).toBeLessThanOrEqual(400);
  });

  it('every TypeScript example compiles against the built package', () => {
    const examples = blocks.filter((b) => b.info === 'ts' || b.info === 'typescript');
    expect(examples.length).toBeGreaterThanOrEqual(2);
    expect(typeCheck(examples.map((b) => ({ name: `readme-line-${b.line}`, code: b.code })))).toEqual([]);
  }, 120_000);

  it('the type check finds an example that does not compile', () => {
    const broken = "import { createCollector } from 'pg-logplexcollector';\nconst c = createCollector({ serveDbDir: '/x' });\nc.record$.subscribe((r) => tap(r.serve.name));\n";
    expect(typeCheck([{ name: 'broken', code: broken }])).toEqual([expect.stringMatching(/^broken\.ts:3: Cannot find name 'tap'/)]);
  }, 120_000);

  it('every shell block marked as runnable runs from the checkout', () => {
    const runnable = blocks.filter((b) => b.runs);
    expect(runnable.length).toBeGreaterThanOrEqual(2);
    for (const block of runnable) {
      expect(block.info).toBe('sh');
      // --norc: bash reads ~/.bashrc and /etc/bash.bashrc even non-interactively when its stdin is
      // a socket (as under ssh or a job runner), and a bashrc that reads PS1 fails under -u.
      const run = spawnSync('bash', ['--norc', '--noprofile', '-euo', 'pipefail', '-c', block.code], {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 30_000,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      expect({ line: block.line, status: run.status, stderr: run.stderr }).toEqual({ line: block.line, status: 0, stderr: '' });
      expect(run.stdout).toMatch(/usage/i);
    }
  }, 60_000);

  it('the serve database example is a serve set the collector accepts', () => {
    const example = blocks.find((b) => b.info === 'json' && b.code.includes('"serves"'));
    expect(example).toBeDefined();
    const parsed = parseServes(example?.code ?? '', { logplexUrl: new URL('https://logplex.example.com/logs') });
    expect(parsed).toMatchObject({ _tag: 'Right' });
  });

  it('names every event our log can print', () => {
    const declaring = [
      ...['source', 'servedb', 'sink', 'spool', 'daemon'].map((stage) => `src/${stage}/events.ts`),
      'src/collector.ts',
      'src/daemon/log.ts',
    ];
    const kinds = new Set(
      declaring.flatMap((file) =>
        [...readFileSync(join(ROOT, file), 'utf8').matchAll(/kind: ('[a-z_]+'(?: \| '[a-z_]+')*)/g)].flatMap((m) =>
          [...(m[1] ?? '').matchAll(/'([a-z_]+)'/g)].map((k) => k[1] ?? ''),
        ),
      ),
    );
    expect(kinds.size).toBeGreaterThanOrEqual(30);
    expect([...kinds].filter((kind) => !README.includes(`\`${kind}\``) && !README.includes(`event=${kind} `)).sort()).toEqual([]);
  });

  // The flags table is rendered from the one flag table and compared in spec/daemon/config.spec.ts.
});

describe('docs/architecture.md', () => {
  it('names tests that exist: the invariants it lists are pinned by real specs', () => {
    const page = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8');
    const named = [...new Set([...page.matchAll(/`((?:spec|marbles)\/[\w/.-]+\.ts)`/g)].map((m) => m[1] ?? ''))];
    expect(named.length).toBeGreaterThanOrEqual(10);
    expect(named.filter((file) => !existsSync(join(ROOT, file)))).toEqual([]);
  });
});

describe('docs and comments say what and why, never when or who', () => {
  // Words of a lab notebook. "session" is allowed only about PostgreSQL's sessions.
  const DIARY = /session|helper|issue #|#1[0-9]|by mistake/i;
  const POSTGRES_SESSION = /psql|PostgreSQL|backend|client session|DEMO_SESSIONS|Session(Id|Start)|session (start|id|time)|(with|without) a session|replayed sessions|the session shows|each session trickles/i;

  /** Comment text of a TypeScript source, line by line (code, strings and identifiers are not prose). */
  function commentLines(source: string): Array<{ line: number; text: string }> {
    const out: Array<{ line: number; text: string }> = [];
    let inBlock = false;
    source.split('\n').forEach((raw, i) => {
      const t = raw.trim();
      if (inBlock || t.startsWith('/*')) {
        out.push({ line: i + 1, text: t });
        inBlock = !t.includes('*/');
        return;
      }
      const at = raw.indexOf('//');
      if (at >= 0 && !/['"`][^'"`]*\/\//.test(raw.slice(0, at + 2))) out.push({ line: i + 1, text: raw.slice(at) });
    });
    return out;
  }

  function sources(dir: string): string[] {
    return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
    );
  }

  it('README.md and docs/ hold no diary words', () => {
    const pages = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
    const hits = pages.flatMap((page) =>
      readFileSync(join(ROOT, page), 'utf8')
        .split('\n')
        .map((text, i) => ({ where: `${page}:${i + 1}`, text }))
        .filter(({ text }) => DIARY.test(text) && !POSTGRES_SESSION.test(text)),
    );
    expect(hits).toEqual([]);
  });

  it('comments in src/ hold no diary words', () => {
    const hits = sources(join(ROOT, 'src')).flatMap((file) =>
      commentLines(readFileSync(file, 'utf8'))
        .filter(({ text }) => DIARY.test(text) && !POSTGRES_SESSION.test(text))
        .map(({ line, text }) => `${file.slice(ROOT.length + 1)}:${line}: ${text}`),
    );
    expect(hits).toEqual([]);
  });
});
