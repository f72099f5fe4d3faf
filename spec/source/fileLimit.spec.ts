// The open-file limit as /proc/self/limits states it (the daemon logs it at start and keeps
// descriptors in reserve below it).
import { readFileSync } from 'node:fs';
import { parseOpenFileLimit, readOpenFileLimit } from '../../src/source/fileLimit';
import { resolveSourceOptions } from '../../src/source/options';

describe('the open-file limit', () => {
  it('reads both values of the Max open files line, unlimited as Infinity', () => {
    const limits = [
      'Limit                     Soft Limit           Hard Limit           Units     ',
      'Max processes             63727                63727                processes ',
      'Max open files            1024                 524288               files     ',
      'Max locked memory         8388608              8388608              bytes     ',
    ].join('\n');
    expect(parseOpenFileLimit(limits)).toEqual({ soft: 1024, hard: 524288 });
    expect(parseOpenFileLimit('Max open files            unlimited            unlimited            files')).toEqual({ soft: Infinity, hard: Infinity });
    expect(parseOpenFileLimit('nothing here')).toBeUndefined();
  });

  it('is this process\'s own, and the source\'s options carry it', () => {
    const own = parseOpenFileLimit(readFileSync('/proc/self/limits', 'utf8'));
    expect(readOpenFileLimit()).toEqual(own);
    expect(resolveSourceOptions().openFileLimit).toBe(own?.soft);
    expect(resolveSourceOptions({ openFileLimit: 5000 }).openFileLimit).toBe(5000);
  });

  it('refuses a limit that leaves sockets almost nothing once the reserve is kept', () => {
    expect(() => resolveSourceOptions({ openFileLimit: 270, reservedFileDescriptors: 256 })).toThrow(
      /the open-file limit \(270\) leaves fewer than 16 descriptors for sockets once 256 are reserved: raise it \(ulimit -n\)/,
    );
    expect(resolveSourceOptions({ openFileLimit: 272, reservedFileDescriptors: 256 }).openFileLimit).toBe(272);
  });
});
