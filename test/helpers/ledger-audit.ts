import type { LedgerEntry } from '../../src/acquirer/sandbox/ledger';

/**
 * The acquirer sandbox's ledger as the truth about money (DESIGN.md §6, "Faults"): what every
 * payment says it moved is checked against the rows the sandbox wrote for it. Shared by the fault
 * test, the model-based test and the soak run, so there is one definition of "the books agree".
 *
 * Rows belong to a payment by their idempotency key, `<payment id>:<step>` (src/activities/*.ts);
 * a refund's key is `<payment id>:refund:<refund id>`, so a ledger refund names the API refund it is.
 */

/** A payment as GET /v1/payments/:id shows it, reduced to what the ledger can confirm. */
export interface AuditedPayment {
  id: string;
  status: string;
  amount: number;
  amount_captured: number;
  amount_refunded?: number;
  refunds?: { id: string; amount: number; status: string }[];
}

export interface Violation {
  /** A stable name of the broken rule, for tallies. */
  rule: string;
  payment?: string;
  detail: string;
}

/** Nothing can change these any more: a hold left here is money stuck on a card. */
export const FINAL_STATUSES = ['declined', 'canceled', 'failed', 'reversed', 'settled', 'refunded', 'partially_refunded'] as const;
/** The payment did not go through (or was given back): the cardholder must be left whole. */
const NOTHING_KEPT = ['declined', 'canceled', 'failed', 'reversed', 'refunded'];

export const isFinal = (status: string): boolean => (FINAL_STATUSES as readonly string[]).includes(status);

export const paymentIdOfKey = (idempotencyKey: string): string => idempotencyKey.split(':')[0]!;

export function ledgerByPayment(ledger: readonly LedgerEntry[]): Map<string, LedgerEntry[]> {
  const byPayment = new Map<string, LedgerEntry[]>();
  for (const e of ledger) {
    const id = paymentIdOfKey(e.idempotency_key);
    const rows = byPayment.get(id);
    if (rows) rows.push(e);
    else byPayment.set(id, [e]);
  }
  return byPayment;
}

export const formatViolation = (v: Violation): string => `${v.rule}${v.payment ? ` ${v.payment}` : ''}: ${v.detail}`;

const summary = (rows: readonly LedgerEntry[]) => rows.map((e) => `${e.kind}:${e.status}:${e.amount}:${e.idempotency_key.slice(e.idempotency_key.indexOf(':') + 1)}`).join(' ');

/**
 * Checks the whole ledger against `payments` (their views at rest):
 * - no idempotency key twice, and no row of a payment outside `knownPaymentIds` (default: `payments`);
 * - per payment at most one authorization, one capture, one void and one settlement; a capture or
 *   void of its own approved authorization, never above it, never both; refunds of its own capture,
 *   never more than captured;
 * - amount_captured and amount_refunded equal the ledger's captures and refunds;
 * - every refund the API shows as succeeded is a ledger row of the same amount, and every ledger
 *   refund is shown as succeeded;
 * - a final payment holds no open authorization; one that did not go through (or was refunded)
 *   kept nothing; a settled one has its settlement row.
 */
export function auditLedger(
  payments: readonly AuditedPayment[],
  ledger: readonly LedgerEntry[],
  options: { knownPaymentIds?: ReadonlySet<string> } = {},
): Violation[] {
  const violations: Violation[] = [];
  const seen = new Set<string>();
  for (const e of ledger) {
    if (seen.has(e.idempotency_key)) violations.push({ rule: 'duplicate_idempotency_key', payment: paymentIdOfKey(e.idempotency_key), detail: e.idempotency_key });
    seen.add(e.idempotency_key);
  }
  const byPayment = ledgerByPayment(ledger);
  const known = options.knownPaymentIds ?? new Set(payments.map((p) => p.id));
  for (const [id, rows] of byPayment) {
    if (!known.has(id)) violations.push({ rule: 'ledger_row_of_no_payment', payment: id, detail: summary(rows) });
  }

  for (const p of payments) {
    const rows = byPayment.get(p.id) ?? [];
    const problem = (rule: string, what: string) => violations.push({ rule, payment: p.id, detail: `${p.status}: ${what}; ledger [${summary(rows)}]` });
    const of = (kind: LedgerEntry['kind'], status?: LedgerEntry['status']) => rows.filter((e) => e.kind === kind && (!status || e.status === status));
    const authorizations = of('authorization');
    const approved = of('authorization', 'approved');
    const captures = of('capture');
    const voids = of('void');
    const refunds = of('refund');
    const settlements = of('settlement');
    const captured = captures.reduce((sum, e) => sum + e.amount, 0);
    const refunded = refunds.reduce((sum, e) => sum + e.amount, 0);

    if (authorizations.length > 1) problem('authorization_twice', `${authorizations.length} authorizations`);
    if (captures.length > 1) problem('capture_twice', `${captures.length} captures`);
    if (voids.length > 1) problem('void_twice', `${voids.length} voids`);
    if (settlements.length > 1) problem('settlement_twice', `${settlements.length} settlements`);
    if (captures.length > 0 && voids.length > 0) problem('captured_and_voided', 'the authorization was both captured and voided');
    const auth = approved[0];
    for (const c of captures) {
      if (!auth || c.parent_ref !== auth.ref) problem('capture_of_no_authorization', 'a capture of no approved authorization of this payment');
      else if (c.amount > auth.amount) problem('capture_above_authorization', `capture ${c.amount} above the authorization ${auth.amount}`);
    }
    for (const v of voids) if (!auth || v.parent_ref !== auth.ref) problem('void_of_no_authorization', 'a void of no approved authorization of this payment');
    const captureRefs = new Set(captures.map((c) => c.ref));
    for (const r of [...refunds, ...settlements]) if (!captureRefs.has(r.parent_ref ?? '')) problem(`${r.kind}_of_no_capture`, `${r.kind} ${r.ref} of no capture of this payment`);
    if (refunded > captured) problem('refund_beyond_capture', `refunds ${refunded} above captures ${captured}`);

    if (p.amount_captured !== captured) problem('amount_captured_mismatch', `amount_captured ${p.amount_captured}, ledger captures ${captured}`);
    if (p.amount_refunded !== undefined && p.amount_refunded !== refunded) problem('amount_refunded_mismatch', `amount_refunded ${p.amount_refunded}, ledger refunds ${refunded}`);
    if (p.refunds !== undefined) {
      const ledgerRefunds = new Map(refunds.map((r) => [r.idempotency_key.slice(`${p.id}:refund:`.length), r]));
      for (const r of p.refunds) {
        const row = ledgerRefunds.get(r.id);
        if (r.status === 'succeeded' && !row) problem('reported_refund_not_in_ledger', `refund ${r.id} (${r.amount}) shown as succeeded, no ledger row`);
        if (r.status === 'succeeded' && row && row.amount !== r.amount) problem('refund_amount_mismatch', `refund ${r.id} shown as ${r.amount}, ledger ${row.amount}`);
      }
      for (const [refundId, row] of ledgerRefunds) {
        const shown = p.refunds.find((r) => r.id === refundId);
        if (!shown || shown.status !== 'succeeded') problem('ledger_refund_not_reported', `ledger refund ${refundId} (${row.amount}) shown as ${shown?.status ?? 'nothing'}`);
      }
    }

    if (isFinal(p.status) && approved.length > 0 && captures.length === 0 && voids.length === 0) {
      problem('open_authorization_on_final_payment', 'an approved authorization neither captured nor voided');
    }
    if (NOTHING_KEPT.includes(p.status) && captured - refunded !== 0) problem('money_kept_on_payment_that_gave_it_back', `captured ${captured} minus refunded ${refunded} is not 0`);
    if (p.status === 'settled' && settlements.length === 0) problem('settled_without_settlement', 'status settled, no settlement row');
  }
  return violations;
}
