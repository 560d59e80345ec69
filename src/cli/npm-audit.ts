/**
 * `npm run security:audit` (and the npm-audit step of `npm run security:scan` and .ci/run): runs
 * `npm audit --omit=dev --json` over the production dependencies and fails on any high or critical
 * advisory not accepted, by GHSA id with a reason, in security/accepted-findings.md
 * (src/security/npm-audit-gate.ts).
 *
 * Exit codes: 0 nothing blocking; 1 a blocking advisory (each is named); 2 the audit could not run
 * (npm printed no report: the registry's advisory endpoint was unreachable or refused). With
 * `--if-unreachable=warn` an audit that could not run prints why and exits 0: the machines this
 * project runs on reach the npm registry only through a proxy that refuses POST, and npm's
 * advisory endpoint (`/-/npm/v1/security/advisories/bulk`) is POST-only, so there the check cannot
 * run at all, and CI says so on its own line instead of failing every build.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { advisoriesOf, gate, isAuditReport, parseAcceptedFindings } from '../security/npm-audit-gate';

const ROOT = path.resolve(__dirname, '..', '..');
const ACCEPTED_FILE = path.join(ROOT, 'security', 'accepted-findings.md');

function main(): number {
  const args = process.argv.slice(2);
  const warnIfUnreachable = args.includes('--if-unreachable=warn');
  const reportFile = args.find((a) => a.startsWith('--report='))?.slice('--report='.length);

  const accepted = parseAcceptedFindings(fs.readFileSync(ACCEPTED_FILE, 'utf8'));

  let output: string;
  if (reportFile) {
    // A saved `npm audit --json` (for checking the gate on a report made elsewhere).
    output = fs.readFileSync(reportFile, 'utf8');
  } else {
    // npm audit exits 1 whenever it finds anything at all; the JSON on stdout is what counts.
    const run = spawnSync('npm', ['audit', '--omit=dev', '--json'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (run.error) throw run.error;
    output = run.stdout;
  }

  let parsed: unknown;
  try {
    parsed = JSON.parse(output);
  } catch {
    parsed = undefined;
  }
  if (!isAuditReport(parsed)) {
    const why = describeFailure(parsed, output);
    console.log(`npm audit: NOT RUN: the registry gave no audit report (${why})`);
    if (warnIfUnreachable) {
      console.log('npm audit: --if-unreachable=warn: not failing; run `npm run security:audit` where the registry answers POST');
      return 0;
    }
    return 2;
  }

  const advisories = advisoriesOf(parsed);
  const result = gate(advisories, accepted);
  const counts = parsed.metadata?.vulnerabilities ?? {};
  const deps = parsed.metadata?.dependencies?.prod ?? parsed.metadata?.dependencies?.total;
  for (const a of result.accepted) console.log(`  accepted  ${a.severity.padEnd(8)} ${a.id} ${a.packageName}: ${a.title}`);
  for (const a of result.stale) console.log(`  stale     ${a.id} is listed in security/accepted-findings.md but no longer reported: remove it`);
  for (const a of result.blocking) console.log(`  BLOCKING  ${a.severity.padEnd(8)} ${a.id} ${a.packageName} ${a.range}: ${a.title}`);
  console.log(
    `npm audit: ${deps ?? '?'} production dependencies; critical ${counts.critical ?? 0}, high ${counts.high ?? 0}, moderate ${counts.moderate ?? 0}, low ${counts.low ?? 0}; ` +
      `${result.blocking.length} blocking, ${result.accepted.length} accepted`,
  );
  if (result.blocking.length > 0) {
    console.log('Fix by upgrading the dependency (an exact pinned version that works on Node 20); only if that is impossible, list the GHSA id with its reason in security/accepted-findings.md.');
    return 1;
  }
  return 0;
}

function describeFailure(parsed: unknown, output: string): string {
  if (parsed && typeof parsed === 'object') {
    const p = parsed as { message?: unknown; error?: { summary?: unknown; code?: unknown } };
    if (typeof p.message === 'string') return p.message;
    if (p.error && (typeof p.error.summary === 'string' || typeof p.error.code === 'string')) return `${String(p.error.code ?? '')} ${String(p.error.summary ?? '')}`.trim();
  }
  return output.trim() ? `unexpected output: ${output.trim().slice(0, 200)}` : 'no output';
}

try {
  process.exitCode = main();
} catch (err) {
  console.error(`security:audit failed: ${(err as Error).message}`);
  process.exitCode = 2;
}
