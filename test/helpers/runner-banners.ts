/**
 * CI's judge reads the closing lines of the test runners it knows (pytest among them) anywhere in
 * .ci/run's output. Schemathesis ends its report with pytest's banner, `=== 2 warnings in 46.51s ===`:
 * a pytest run that executed no test. Printed inside jest's output, that line made CI judge four
 * green runs (993 tests passed) as runs with no test. Tests that relay a tool's report print it
 * through this, which keeps each banner's words and drops the rule of `=` around them.
 */
export function withoutBanners(report: string): string {
  return report.replace(/^([ \t]*)={3,}[ \t]+(.*?)[ \t]+={3,}[ \t]*$/gm, '$1[$2]');
}
