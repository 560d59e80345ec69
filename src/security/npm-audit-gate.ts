/**
 * The gate over `npm audit --json` (docs/security-scanning.md): production dependencies fail CI on
 * any high or critical advisory, unless that advisory's GHSA id is listed, with a reason, in
 * security/accepted-findings.md. npm audit itself has no allow-list, and `--audit-level` can only
 * accept everything below a severity, so the decision is made here, one advisory at a time.
 */

export type Severity = 'info' | 'low' | 'moderate' | 'high' | 'critical';

const BLOCKING: ReadonlySet<Severity> = new Set(['high', 'critical']);

/** One advisory as `npm audit --json` (report version 2) gives it in a vulnerability's `via`. */
interface AuditVia {
  source?: number;
  name?: string;
  title?: string;
  url?: string;
  severity?: Severity;
  range?: string;
}

/** The part of `npm audit --json` (npm 7 and later, auditReportVersion 2) the gate reads. */
export interface AuditReport {
  auditReportVersion: number;
  vulnerabilities: Record<string, { name: string; severity: Severity; via: (AuditVia | string)[] }>;
  metadata?: { vulnerabilities?: Partial<Record<Severity | 'total', number>>; dependencies?: Record<string, number> };
}

export interface Advisory {
  /** GHSA-xxxx-xxxx-xxxx, from the advisory's URL. */
  id: string;
  packageName: string;
  severity: Severity;
  title: string;
  range: string;
}

export interface AcceptedFinding {
  id: string;
  reason: string;
}

export interface GateResult {
  blocking: Advisory[];
  accepted: Advisory[];
  /** Listed as accepted but no longer reported: the entry can go. */
  stale: AcceptedFinding[];
}

const GHSA = /GHSA(?:-[23456789cfghjmpqrvwx]{4}){3}/;

/**
 * Whether `npm audit --json` printed a report, as opposed to an error (`{"message", "statusCode"}`
 * or `{"error": {...}}`) when the registry's advisory endpoint could not be reached.
 */
export function isAuditReport(value: unknown): value is AuditReport {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { auditReportVersion?: unknown }).auditReportVersion === 2 &&
    typeof (value as { vulnerabilities?: unknown }).vulnerabilities === 'object'
  );
}

/**
 * The advisories behind a report, each once. A vulnerability's `via` holds either an advisory object
 * or the name of the dependency it comes through; only the objects are advisories.
 */
export function advisoriesOf(report: AuditReport): Advisory[] {
  const byId = new Map<string, Advisory>();
  for (const vulnerability of Object.values(report.vulnerabilities)) {
    for (const via of vulnerability.via) {
      if (typeof via === 'string') continue;
      const id = via.url?.match(GHSA)?.[0] ?? (via.source !== undefined ? `npm-${via.source}` : undefined);
      if (!id) continue;
      byId.set(`${id}\0${via.name ?? vulnerability.name}`, {
        id,
        packageName: via.name ?? vulnerability.name,
        severity: via.severity ?? vulnerability.severity,
        title: via.title ?? '',
        range: via.range ?? '',
      });
    }
  }
  return [...byId.values()];
}

/**
 * The accepted npm advisories in security/accepted-findings.md: the table rows of its
 * `## npm audit` section whose first cell is a GHSA id. A row without a reason is refused, so an
 * exception cannot be added silently.
 */
export function parseAcceptedFindings(markdown: string): AcceptedFinding[] {
  const accepted: AcceptedFinding[] = [];
  let inSection = false;
  for (const line of markdown.split('\n')) {
    if (/^##\s/.test(line)) inSection = /^##\s+npm audit\b/i.test(line);
    if (!inSection || !line.trim().startsWith('|')) continue;
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    const id = cells[0]?.replace(/`/g, '').match(new RegExp(`^${GHSA.source}$`))?.[0];
    if (!id) continue;
    const reason = cells[cells.length - 1] ?? '';
    if (cells.length < 3 || reason.length < 10) {
      throw new Error(`security/accepted-findings.md: the row for ${id} gives no reason (columns: id | package | reason)`);
    }
    accepted.push({ id, reason });
  }
  return accepted;
}

export function gate(advisories: Advisory[], accepted: AcceptedFinding[]): GateResult {
  const acceptedIds = new Set(accepted.map((a) => a.id));
  const relevant = advisories.filter((a) => BLOCKING.has(a.severity));
  const reportedIds = new Set(advisories.map((a) => a.id));
  return {
    blocking: relevant.filter((a) => !acceptedIds.has(a.id)),
    accepted: relevant.filter((a) => acceptedIds.has(a.id)),
    stale: accepted.filter((a) => !reportedIds.has(a.id)),
  };
}
