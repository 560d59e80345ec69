import type { Db } from '../storage/db';
import { GENESIS_HASH, rowHash, type AuditRow } from './audit-log';

/** How a CVV was destroyed, as the audit chain shows it. */
export type CvvDestruction =
  /** Purged once the authorization that used it was over (DESIGN.md §3, invariant 3). */
  | 'after_authorization'
  /** Held for a fraud review, purged when the review ended without an authorization. */
  | 'at_review_end'
  /** Never used, destroyed by the TTL backstop. */
  | 'ttl_expiry'
  /** The payment could not be started: the API destroyed what it had sealed. */
  | 'payment_not_started'
  /** The payment ended before any authorization (a fraud decline, a cancel). */
  | 'without_authorization';

export interface CardDataAttestation {
  object: 'card_data_attestation';
  payment: string;
  card: {
    intake: string | null;
    sealed_at: string | null;
    sealed_by: string | null;
    tokenized_at: string | null;
  };
  cvv: {
    ref: string | null;
    /** `destroyed`; `held` while its payment still needs it; `none` for a stored credential. */
    status: 'destroyed' | 'held' | 'none';
    destroyed_at: string | null;
    destroyed_how: CvvDestruction | null;
    retained_until: string | null;
  };
  authorizations: { at: string; purpose: string }[];
  chain: { verified: boolean; rows: number[]; problem: string | null };
  events: { seq: number; at: string; action: string; actor: string; subject: string | null; outcome: string }[];
}

const CARD_ACTIONS = ['card.seal', 'card.tokenize', 'card.detokenize', 'cvv.retain', 'cvv.purge', 'cvv.expire'] as const;
const iso = (ms: number | string | undefined) => (ms === undefined ? null : new Date(Number(ms)).toISOString());
const detailsOf = (row: AuditRow): Record<string, unknown> => {
  try {
    return JSON.parse(row.details) as Record<string, unknown>;
  } catch {
    return {};
  }
};
const placeholders = (from: number, count: number) => Array.from({ length: count }, (_, i) => `$${from + i}`).join(', ');

/**
 * The retention attestation of one payment's card data (GET /v1/payments/:id/card_data): when
 * the card was sealed and tokenized, when each authorization read it, and when and how its CVV was
 * destroyed, read from the audit log alone (DESIGN.md §3, invariant 7) and proven to be in the
 * hash chain: every row's hash matches its content, its link matches the row before it, and the
 * row after it links to it. An edited or removed row makes `chain.verified` false and names it.
 */
export class CardDataAttestations {
  constructor(private readonly db: Db) {}

  async forPayment(paymentId: string): Promise<CardDataAttestation | undefined> {
    const byPayment = await this.db.query<AuditRow>(
      `SELECT * FROM audit_log WHERE payment_id = $1 AND action IN (${placeholders(2, CARD_ACTIONS.length)}) ORDER BY seq`,
      [paymentId, ...CARD_ACTIONS],
    );
    // The rows that name the payment's intake or CVV without naming the payment: the TTL sweeper's,
    // and seals written before the seal row carried the payment.
    const refs = new Set<string>();
    for (const row of byPayment) {
      const details = detailsOf(row);
      if (row.action === 'card.seal' && row.subject) refs.add(row.subject);
      if (row.action === 'card.seal' && typeof details.cvvRef === 'string') refs.add(details.cvvRef);
      if (row.action === 'card.tokenize' && typeof details.intakeRef === 'string') refs.add(details.intakeRef);
      if ((row.action === 'cvv.retain' || row.action === 'cvv.purge') && row.subject) refs.add(row.subject);
    }
    const bySubject = refs.size
      ? await this.db.query<AuditRow>(
          `SELECT * FROM audit_log WHERE subject IN (${placeholders(1, refs.size)}) AND action IN ('card.seal', 'cvv.purge', 'cvv.expire') ORDER BY seq`,
          [...refs],
        )
      : [];
    const rows = [...new Map([...byPayment, ...bySubject].map((row) => [Number(row.seq), row])).values()].sort((a, b) => Number(a.seq) - Number(b.seq));
    if (rows.length === 0) return undefined;
    return { ...describe(paymentId, rows), chain: await this.verifyInChain(rows) };
  }

  /** Each row's own hash, and its links to its neighbours in the chain. */
  private async verifyInChain(rows: AuditRow[]): Promise<CardDataAttestation['chain']> {
    const seqs = rows.map((r) => Number(r.seq));
    const neighbours = [...new Set(seqs.flatMap((s) => [s - 1, s + 1]).filter((s) => s > 0 && !seqs.includes(s)))];
    const around = neighbours.length
      ? await this.db.query<AuditRow>(`SELECT * FROM audit_log WHERE seq IN (${placeholders(1, neighbours.length)})`, neighbours)
      : [];
    const bySeq = new Map([...rows, ...around].map((r) => [Number(r.seq), r]));
    const fail = (seq: number, why: string) => ({ verified: false, rows: seqs, problem: `row ${seq}: ${why}` });
    for (const row of rows) {
      const seq = Number(row.seq);
      if (rowHash(row) !== row.hash) return fail(seq, 'its hash does not match its content (edited)');
      const before = bySeq.get(seq - 1);
      if (seq === 1 ? row.prev_hash !== GENESIS_HASH : !before) return fail(seq, 'the row before it is missing');
      if (before && (row.prev_hash !== before.hash || rowHash(before) !== before.hash)) return fail(seq, 'it does not link to the row before it');
      const after = bySeq.get(seq + 1);
      if (after && after.prev_hash !== row.hash) return fail(seq, 'the row after it does not link to it');
    }
    return { verified: true, rows: seqs, problem: null };
  }
}

function describe(paymentId: string, rows: AuditRow[]): Omit<CardDataAttestation, 'chain'> {
  const first = (action: string) => rows.find((r) => r.action === action);
  const seal = first('card.seal');
  const tokenize = first('card.tokenize');
  const detokenized = rows.filter((r) => r.action === 'card.detokenize');
  const retained = rows.filter((r) => r.action === 'cvv.retain');
  const cvvRef = seal ? (detailsOf(seal).cvvRef as string | undefined) : (retained[0] ?? first('cvv.purge'))?.subject ?? undefined;
  const destroyed = rows.find((r) => (r.action === 'cvv.purge' || r.action === 'cvv.expire') && (cvvRef === undefined || r.subject === cvvRef));
  const authorizedBefore = (row: AuditRow) => detokenized.some((d) => Number(d.seq) < Number(row.seq) && detailsOf(d).purpose === 'authorization');
  const how = (row: AuditRow): CvvDestruction => {
    if (row.action === 'cvv.expire') return 'ttl_expiry';
    if (detailsOf(row).reason === 'payment_not_started') return 'payment_not_started';
    if (authorizedBefore(row)) return 'after_authorization';
    if (retained.some((r) => Number(r.seq) < Number(row.seq))) return 'at_review_end';
    return 'without_authorization';
  };
  const lastRetain = retained.at(-1);
  return {
    object: 'card_data_attestation',
    payment: paymentId,
    card: {
      intake: seal?.subject ?? (tokenize ? ((detailsOf(tokenize).intakeRef as string | undefined) ?? null) : null),
      sealed_at: seal ? iso(seal.at) : null,
      sealed_by: seal?.actor ?? null,
      tokenized_at: tokenize ? iso(tokenize.at) : null,
    },
    cvv: {
      ref: cvvRef ?? null,
      status: destroyed ? 'destroyed' : cvvRef ? 'held' : 'none',
      destroyed_at: destroyed ? iso(destroyed.at) : null,
      destroyed_how: destroyed ? how(destroyed) : null,
      retained_until: lastRetain ? ((detailsOf(lastRetain).until as string | undefined) ?? null) : null,
    },
    authorizations: detokenized.map((d) => ({ at: iso(d.at)!, purpose: String(detailsOf(d).purpose ?? 'authorization') })),
    events: rows.map((r) => ({ seq: Number(r.seq), at: iso(r.at)!, action: r.action, actor: r.actor, subject: r.subject, outcome: r.outcome })),
  };
}
