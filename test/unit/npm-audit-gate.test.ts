import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { advisoriesOf, gate, isAuditReport, parseAcceptedFindings, type AuditReport } from '../../src/security/npm-audit-gate';

/**
 * The npm audit gate's own logic (src/security/npm-audit-gate.ts) on reports in the shape
 * `npm audit --json` prints (auditReportVersion 2), and the CLI end to end on a saved report: the
 * registry's advisory endpoint is not reachable from this machine, so the live audit is the CI step's.
 */
const ROOT = path.resolve(__dirname, '..', '..');

function report(vias: { id: string; name: string; severity: 'low' | 'moderate' | 'high' | 'critical' }[]): AuditReport {
  const vulnerabilities: AuditReport['vulnerabilities'] = {};
  for (const v of vias) {
    vulnerabilities[v.name] = {
      name: v.name,
      severity: v.severity,
      via: [{ source: 1_100_000, name: v.name, title: `${v.name} advisory`, url: `https://github.com/advisories/${v.id}`, severity: v.severity, range: '<9.9.9' }],
    };
  }
  // A package affected only through another one names it in `via`: not an advisory of its own.
  vulnerabilities['wrapper'] = { name: 'wrapper', severity: 'high', via: vias.map((v) => v.name) };
  return { auditReportVersion: 2, vulnerabilities, metadata: { vulnerabilities: { high: 1 }, dependencies: { prod: 42 } } };
}

const ACCEPTED = `# Accepted
## npm audit
| advisory | package | reason |
|---|---|---|
| GHSA-2222-3333-4444 | left-pad | not reachable: only the build tool calls it, never with outside input |
## semgrep
| GHSA-5555-6666-7777 | not | in the npm section, so not an npm exception |
`;

describe('npm audit gate', () => {
  it('blocks a high or critical advisory that is not accepted, and lets moderate ones through', () => {
    const advisories = advisoriesOf(
      report([
        { id: 'GHSA-wxcv-2345-6789', name: 'express', severity: 'critical' },
        { id: 'GHSA-mmmm-pppp-qqqq', name: 'qs', severity: 'moderate' },
      ]),
    );
    expect(advisories.map((a) => a.id).sort()).toEqual(['GHSA-mmmm-pppp-qqqq', 'GHSA-wxcv-2345-6789']);
    const result = gate(advisories, []);
    expect(result.blocking.map((a) => a.id)).toEqual(['GHSA-wxcv-2345-6789']);
  });

  it('lets through only what security/accepted-findings.md accepts by GHSA id, and names stale entries', () => {
    const accepted = parseAcceptedFindings(ACCEPTED);
    expect(accepted.map((a) => a.id)).toEqual(['GHSA-2222-3333-4444']);
    const result = gate(advisoriesOf(report([{ id: 'GHSA-2222-3333-4444', name: 'left-pad', severity: 'high' }])), accepted);
    expect(result.blocking).toEqual([]);
    expect(result.accepted.map((a) => a.id)).toEqual(['GHSA-2222-3333-4444']);
    expect(gate([], accepted).stale.map((a) => a.id)).toEqual(['GHSA-2222-3333-4444']);
    // A new advisory is not covered by an old acceptance.
    expect(gate(advisoriesOf(report([{ id: 'GHSA-9999-8888-7777', name: 'left-pad', severity: 'high' }])), accepted).blocking).toHaveLength(1);
  });

  it('refuses an accepted row without a reason', () => {
    expect(() => parseAcceptedFindings('## npm audit\n| GHSA-2222-3333-4444 | left-pad | |\n')).toThrow(/no reason/);
  });

  it('tells an error answer from a report', () => {
    expect(isAuditReport({ message: '405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk', statusCode: 405 })).toBe(false);
    expect(isAuditReport(report([]))).toBe(true);
  });

  it('the committed accepted-findings file parses', () => {
    expect(() => parseAcceptedFindings(fs.readFileSync(path.join(ROOT, 'security', 'accepted-findings.md'), 'utf8'))).not.toThrow();
  });

  it('the CLI exits 1 on a blocking advisory in a saved report, 0 on a clean one', () => {
    const cli = path.join(ROOT, 'dist', 'cli', 'npm-audit.js');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'npm-audit-'));
    try {
      const bad = path.join(dir, 'bad.json');
      fs.writeFileSync(bad, JSON.stringify(report([{ id: 'GHSA-wxcv-2345-6789', name: 'express', severity: 'high' }])));
      const blocked = spawnSync(process.execPath, [cli, `--report=${bad}`], { encoding: 'utf8' });
      expect(blocked.stdout).toMatch(/BLOCKING\s+high\s+GHSA-wxcv-2345-6789 express/);
      expect(blocked.status).toBe(1);

      const good = path.join(dir, 'good.json');
      fs.writeFileSync(good, JSON.stringify(report([])));
      const passed = spawnSync(process.execPath, [cli, `--report=${good}`], { encoding: 'utf8' });
      expect(passed.stdout).toMatch(/npm audit: 42 production dependencies; .* 0 blocking, 0 accepted/);
      expect(passed.status).toBe(0);

      const unreachable = path.join(dir, 'error.json');
      fs.writeFileSync(unreachable, JSON.stringify({ message: '405 Method Not Allowed', statusCode: 405 }));
      expect(spawnSync(process.execPath, [cli, `--report=${unreachable}`], { encoding: 'utf8' }).status).toBe(2);
      expect(spawnSync(process.execPath, [cli, `--report=${unreachable}`, '--if-unreachable=warn'], { encoding: 'utf8' }).status).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
