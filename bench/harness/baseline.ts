// `run.js --baseline <commit>`: the given commit built in a temporary git worktree, so that each
// scenario runs against it and against the working tree in one bench run, interleaved. CPU
// figures on a shared machine drift by 2× from day to day; a ratio measured side by side does not.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IdentityPadding } from '../../src/protocol/encode';
import { runEmulator } from '../../src/tools/logfebeEmulator';
import { DaemonChild } from './daemon';
import { startLogplexStandIn } from '../../src/tools/logplexStandIn';

export interface Baseline {
  readonly commit: string; // the full hash
  readonly label: string; // the short hash, for printed lines
  readonly root: string; // the worktree: bin/ and its built dist/
  readonly modules: 'symlinked' | 'npm ci';
  readonly prepareS: number;
  remove(): void;
}

const git = (cwd: string, ...args: string[]): string => execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

/** The lockfile's packages without the root entry (its bin list changed alone in a9e9fc1). */
function lockedPackages(lockfile: string): string {
  const lock = JSON.parse(lockfile) as { packages?: Record<string, unknown> };
  const { '': _root, ...deps } = lock.packages ?? {};
  return JSON.stringify(deps);
}

/**
 * Checks out `commit` (detached) in a temporary worktree and builds it. node_modules is a symlink
 * to ours when both lockfiles pin the same packages (instant, against ~20 s for `npm ci` here),
 * otherwise `npm ci` runs there. Only dist/ is built: the baseline's bench is not used.
 */
export function prepareBaseline(repo: string, commitish: string): Baseline {
  const t0 = performance.now();
  const commit = git(repo, 'rev-parse', '--verify', `${commitish}^{commit}`);
  const label = commit.slice(0, 7);
  const dir = mkdtempSync(join(tmpdir(), `plc-baseline-${label}-`));
  const root = join(dir, 'tree');
  git(repo, 'worktree', 'add', '--detach', root, commit);
  const remove = (): void => {
    try {
      git(repo, 'worktree', 'remove', '--force', root);
    } catch {
      // already gone; prune below forgets it
    }
    rmSync(dir, { recursive: true, force: true });
    git(repo, 'worktree', 'prune');
  };
  try {
    const same = lockedPackages(readFileSync(join(repo, 'package-lock.json'), 'utf8')) === lockedPackages(readFileSync(join(root, 'package-lock.json'), 'utf8'));
    let modules: Baseline['modules'] = 'npm ci';
    if (same && existsSync(join(repo, 'node_modules'))) {
      symlinkSync(join(repo, 'node_modules'), join(root, 'node_modules'), 'dir');
      modules = 'symlinked';
    } else {
      execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: root, stdio: 'ignore' });
    }
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
    return { commit, label, root, modules, prepareS: (performance.now() - t0) / 1000, remove };
  } catch (e) {
    remove();
    throw e;
  }
}

/**
 * What follows the identity's NUL in the emulator's I for the daemon at `root`: real PostgreSQL's
 * 3 bytes of memory ('garbage') if that daemon accepts them, else NULs (d6c44f6 and earlier
 * refused trailing non-NUL bytes). Found by trying: one connection, one record.
 */
export async function identityPaddingFor(root: string): Promise<IdentityPadding> {
  const standIn = await startLogplexStandIn({ tokens: ['t.probe'] });
  const daemon = new DaemonChild({ logplexUrl: standIn.url, flags: [], keepEventKinds: new Set(['listening']), root });
  try {
    const socketPath = join(daemon.dir, 'probe.sock');
    await daemon.serve([{ identity: 'probe', token: 't.probe', socketPath, name: 'PROBE' }], 15_000);
    await runEmulator({ socketPath, identity: 'probe', identityPadding: 'garbage', recordsPerConnection: 1 });
    await daemon.waitFor('the probe connection to be judged', () => daemon.count('connect') + daemon.count('protocol_error') > 0, 15_000);
    return daemon.count('connect') > 0 ? 'garbage' : 'nul';
  } finally {
    await daemon.stop(15_000);
    await standIn.close();
  }
}
