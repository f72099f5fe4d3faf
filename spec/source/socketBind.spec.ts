// Where each socket is bound (socketBind.ts): in place where that is as safe as a private
// directory, which made 10,000 serves on ext4 3x slower (a mkdir and an rmdir per socket).
// Each test watches bind() itself: a spy on Server.listen looks at the socket's path right after
// the bind, which is when a looser mode or a swapped path would matter.
import { chmodSync, lstatSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync, type Stats } from 'node:fs';
import { Server } from 'node:net';
import { dirname, join } from 'node:path';
import { bindGivesNoMore } from '../../src/source/bindInPlace';
import type { Serve } from '../../src/servedb/serve';
import { Harness, makeServe, otherGid, tempDir } from './support';
import { withUmask } from '../support/umask';

/** What a bind looked like at the moment it happened. */
interface Bound {
  readonly bindPath: string; // where listen() bound it
  readonly atTarget: Stats | undefined; // the file at the serve's path right then
}

/** The serve's path a bind is for: itself, or named in the private directory's name (privateBind.ts). */
function targetOf(bindPath: string): string {
  const dir = dirname(bindPath);
  const privateDir = bindPath.startsWith('/proc/self/fd/') ? readlinkSync(dir) : dir;
  const named = /^(.*)\/\.plc-(.+)-[A-Za-z0-9]{6}$/.exec(privateDir);
  return named === null ? bindPath : join(named[1]!, named[2]!);
}

const grantsWrite = (mode: number): string =>
  [mode & 0o200 ? 'u' : '', mode & 0o020 ? 'g' : '', mode & 0o002 ? 'o' : ''].join('');

describe('socketBind: in place or in a private directory', () => {
  let tmp: ReturnType<typeof tempDir>;
  let harness: Harness | undefined;
  let binds: Map<string, Bound>; // by the serve's socket path
  let serves: Serve[];
  let afterBind: ((bindPath: string) => void) | undefined; // a test's own step right after a bind

  beforeEach(() => {
    afterBind = undefined;
    tmp = tempDir(); // 0700, ours: only we can rename its entries
    binds = new Map();
    serves = Array.from({ length: 12 }, (_, n) => makeServe(tmp.path(`${n}.sock`), `db${n}`));
    const listen = Server.prototype.listen;
    jest.spyOn(Server.prototype, 'listen').mockImplementation(function (this: Server, ...args: Parameters<Server['listen']>) {
      const result = listen.apply(this, args);
      const bindPath = (args[0] as { path: string }).path;
      const socketPath = targetOf(bindPath);
      let atTarget: Stats | undefined;
      try {
        atTarget = lstatSync(socketPath);
      } catch {
        atTarget = undefined;
      }
      binds.set(socketPath, { bindPath, atTarget });
      afterBind?.(bindPath);
      return result;
    });
  });
  afterEach(() => {
    harness?.unsubscribe();
    harness = undefined;
    jest.restoreAllMocks();
    tmp.remove();
  });

  /** Applies `serves` in one synchronous run (no slices), with `umask` in force meanwhile. */
  async function applyWithUmask(umask: number, options: ConstructorParameters<typeof Harness>[0]): Promise<void> {
    const h = (harness = new Harness({ listenSliceMs: 0, ...options }));
    await withUmask(umask, () => h.apply(serves));
  }

  it('binds in place where only we can rename, and the socket never grants more than its final mode', async () => {
    const gid = otherGid();
    await applyWithUmask(0o077, { socketMode: 0o660, socketGroup: gid });

    const inPlace = serves.filter((s) => binds.get(s.socketPath)?.bindPath === s.socketPath);
    // The first one is bound privately, to learn what bind() gives a socket here; then in place.
    expect(inPlace.map((s) => s.socketPath)).toEqual(serves.slice(1).map((s) => s.socketPath));
    for (const serve of inPlace) {
      const justBound = binds.get(serve.socketPath)?.atTarget;
      expect(justBound?.isSocket()).toBe(true);
      expect(grantsWrite(justBound!.mode)).toBe('u'); // umask 077: nobody but us until the chmod
    }
    for (const serve of serves) {
      const st = lstatSync(serve.socketPath);
      expect([st.mode & 0o7777, st.gid]).toEqual([0o660, gid]);
    }
    expect(harness!.eventsOf('listening')).toHaveLength(serves.length);
    expect(harness!.eventsOf('listening').every((e) => e.mode === '0660' && e.group === gid)).toBe(true);
    expect(readdirSync(tmp.dir).filter((n) => n.startsWith('.plc-'))).toEqual([]);
  });

  it('binds privately when the umask would let more people connect than the mode', async () => {
    await applyWithUmask(0o000, { socketMode: 0o660 }); // bind() would give 0777: anyone could connect
    for (const serve of serves) {
      expect(binds.get(serve.socketPath)?.bindPath).not.toBe(serve.socketPath);
      expect(binds.get(serve.socketPath)?.atTarget).toBeUndefined(); // nothing at the path until it is 0660
      expect(lstatSync(serve.socketPath).mode & 0o7777).toBe(0o660);
    }
  });

  it('binds privately where others can write the directory and it is not sticky', async () => {
    chmodSync(tmp.dir, 0o777);
    await applyWithUmask(0o077, { socketMode: 0o777 });
    for (const serve of serves) {
      expect(binds.get(serve.socketPath)?.bindPath).not.toBe(serve.socketPath);
      expect(binds.get(serve.socketPath)?.atTarget).toBeUndefined();
      expect(lstatSync(serve.socketPath).mode & 0o7777).toBe(0o777);
    }
  });

  it('skips the chmod when bind() already gave the mode', async () => {
    const fs = require('node:fs') as typeof import('node:fs'); // the module object the source calls through
    const chmod = jest.spyOn(fs, 'chmodSync');
    await applyWithUmask(0o022, { socketMode: 0o755 });
    expect(serves.filter((s) => binds.get(s.socketPath)?.bindPath === s.socketPath)).toHaveLength(serves.length - 1);
    expect(chmod).toHaveBeenCalledTimes(1); // the first, bound privately
    for (const serve of serves) expect(lstatSync(serve.socketPath).mode & 0o7777).toBe(0o755);
  });

  it('never chmods through a symlink swapped in at a path bound in place', async () => {
    const victim = tmp.path('victim');
    writeFileSync(victim, 'secret');
    chmodSync(victim, 0o600);
    const swapped = serves[1]!; // the first bound in place
    afterBind = (bindPath) => {
      // Only we or root could do this here; it must still cost a listen, not the victim's mode.
      if (bindPath === swapped.socketPath) {
        rmSync(swapped.socketPath, { force: true });
        symlinkSync(victim, swapped.socketPath);
      }
    };
    await applyWithUmask(0o022, { socketMode: 0o777, listenRetryMs: 0 });

    expect(statSync(victim).mode & 0o7777).toBe(0o600);
    expect(readFileSync(victim, 'utf8')).toBe('secret');
    expect(harness!.eventsOf('listen_error')).toEqual([expect.objectContaining({ socket: swapped.socketPath, code: 'LISTEN_IN_USE' })]);
    expect(harness!.eventsOf('listening')).toHaveLength(serves.length - 1);
  });
});

describe('bindGivesNoMore', () => {
  it('compares write permission for everyone the two groups can hold', () => {
    expect(bindGivesNoMore({ mode: 0o755, gid: 10 }, 0o777, undefined)).toBe(true); // umask 022, default mode
    expect(bindGivesNoMore({ mode: 0o755, gid: 10 }, 0o660, 20)).toBe(true); // only we can write before
    expect(bindGivesNoMore({ mode: 0o750, gid: 10 }, 0o600, undefined)).toBe(true); // read/execute: nothing on a socket
    expect(bindGivesNoMore({ mode: 0o777, gid: 10 }, 0o660, undefined)).toBe(false); // others could connect first
    expect(bindGivesNoMore({ mode: 0o775, gid: 10 }, 0o660, 20)).toBe(false); // group 10 could, group 20 is meant
    expect(bindGivesNoMore({ mode: 0o775, gid: 20 }, 0o660, 20)).toBe(true); // the same group before and after
    expect(bindGivesNoMore({ mode: 0o775, gid: 10 }, 0o666, 20)).toBe(true); // everyone may in the end
    expect(bindGivesNoMore({ mode: 0o557, gid: 10 }, 0o660, undefined)).toBe(false); // others before, not after
    expect(bindGivesNoMore({ mode: 0o755, gid: 10 }, 0o555, undefined)).toBe(false); // not even us, in the end
  });
});
