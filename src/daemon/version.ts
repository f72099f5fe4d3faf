// The package version, read at run time: the build's rootDir is src/, so package.json is not
// compiled in; src/daemon and dist/daemon are both two levels below it.
export function packageVersion(): string {
  try {
    const pkg: unknown = require('../../package.json');
    if (typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string') return pkg.version;
  } catch {
    // relocated or bundled: fall through
  }
  return 'unknown';
}
