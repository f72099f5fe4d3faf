// The package version, read at run time: the build's rootDir is src/, so package.json is not
// compiled in; src/ and dist/ are both one level below it. The daemon's --version, the
// collector's started event, the build-info metric and the sink's User-Agent all say this one.
export function packageVersion(): string {
  try {
    const pkg: unknown = require('../package.json');
    if (typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string') return pkg.version;
  } catch {
    // relocated or bundled: the callers still name the product
  }
  return 'unknown';
}
