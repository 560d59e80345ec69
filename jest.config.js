/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // dist/lambda/package.json (npm run build:lambda) repeats the project's name; jest's module map would warn of a collision.
  modulePathIgnorePatterns: ['<rootDir>/dist/lambda/'],
  // Builds dist/ (the worker and API processes the integration tests start) and provisions the
  // Temporal binaries once, before any test file runs.
  globalSetup: '<rootDir>/test/global-setup.ts',
  // Scans every log line of the run for test card numbers and CVCs.
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  // Jest's summary plus one plain closing line for CI (test/reporters/closing-line.js).
  reporters: ['default', '<rootDir>/test/reporters/closing-line.js'],
  setupFiles: ['<rootDir>/test/setup-runtime.ts'],
  testTimeout: 120_000,
  // Two cores: each integration file runs its own Temporal server and worker processes.
  maxWorkers: 2,
};
