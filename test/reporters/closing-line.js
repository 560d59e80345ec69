// Writes the run's counts as one plain line, `jest: N passed, N failed, N skipped`, to
// test-output/jest-summary.txt. Jest's own summary ("Tests: 954 passed, 954 total") is not a line
// that CI's judge reads, so .ci/run prints this one last: a run with no test executed is then told
// apart from a green one by the counts, not by the exit code alone.
const fs = require('node:fs');
const path = require('node:path');

class ClosingLineReporter {
  onRunComplete(_contexts, results) {
    const line = `jest: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${results.numPendingTests + results.numTodoTests} skipped`;
    const dir = path.resolve(__dirname, '..', '..', 'test-output');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'jest-summary.txt'), `${line}\n`);
  }
}

module.exports = ClosingLineReporter;
