// jest globalSetup: build dist/ from the current source before any spec runs. Several specs run
// what ships (the daemon child, `import 'pg-logplexcollector'`, the bench harness); without this,
// `npx jest` alone would test whatever dist/ an earlier build left behind.
const { execFileSync } = require('node:child_process');
const { join } = require('node:path');

module.exports = function buildDist() {
  const root = join(__dirname, '..', '..');
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  });
};
