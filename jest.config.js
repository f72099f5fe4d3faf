// Unit and integration tests live in spec/, marble diagrams in marbles/.
// Type errors are caught once by `tsc --noEmit` in `npm test`, so ts-jest only transpiles:
// that keeps a run fast and still strict.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/spec', '<rootDir>/marbles'],
  testMatch: ['**/*.spec.ts', '**/*.marbles.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
  },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testTimeout: 20000,
  // Specs that run dist/ (the daemon child, the package import) run what this source builds.
  globalSetup: '<rootDir>/spec/support/buildDist.js',
};
