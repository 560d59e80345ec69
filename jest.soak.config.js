/**
 * `npm run soak` (not in CI): the soak run in test/soak/, with the suite's build, runtime and leak
 * scan. Its own test match, so `npm test` never picks it up; one file, hours at most.
 */
const base = require('./jest.config.js');

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  testMatch: ['<rootDir>/test/soak/**/*.soak.ts'],
  testTimeout: 6 * 60 * 60_000,
  maxWorkers: 1,
};
