import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AuditLog } from '../../src/audit/audit-log';
import { CardDataAttestations } from '../../src/audit/card-data-attestation';
import { CardIntake } from '../../src/vault/card-intake';
import { CachingKeyProvider } from '../../src/vault/keys/data-key-cache';
import { LocalKeyProvider } from '../../src/vault/keys/local-key-provider';
import { Vault } from '../../src/vault/vault';
import { TEST_CARDS, testCard } from '../helpers/test-cards';
import { postgresBackend, sqliteBackend, type Backend, type TestDatabase } from '../helpers/vault-backends';

/**
 * The retention attestation (GET /v1/payments/:id/card_data) read from the audit chain on SQLite
 * and PostgreSQL: the vault's own code paths write the rows (seal, tokenize, authorization, hold
 * for review, purge, TTL sweep); the attestation says how each CVV was destroyed, and a row edited
 * behind the database's append-only trigger makes the chain check fail and name it.
 */
const MINUTE = 60_000;
const EXPIRY = { expMonth: 12, expYear: 2030 };
const backends: Backend[] = [sqliteBackend(), postgresBackend()];
afterAll(async () => Promise.all(backends.map((b) => b.stop())));

describe.each(backends.map((b) => [b.name, b] as const))('card-data attestation on %s', (_name, backend) => {
  let store: TestDatabase;
  let clock: number;
  let intake: CardIntake;
  let vault: Vault;
  let attestations: CardDataAttestations;

  beforeEach(async () => {
    store = await backend.create();
    const keys = new CachingKeyProvider(LocalKeyProvider.open(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'keys-')), 'master-key.json')));
    clock = Date.UTC(2026, 11, 3, 9, 0, 0);
    const audit = new AuditLog(store.db, () => clock);
    intake = new CardIntake(store.db, audit, { ttlMs: 30 * MINUTE, now: () => clock });
    vault = await Vault.open(store.db, keys, audit, { now: () => clock });
    attestations = new CardDataAttestations(store.db);
  });
  afterEach(async () => store.close());

  async function sealed(paymentId: string, pan: string = TEST_CARDS.visa) {
    const card = await intake.seal(testCard(pan), { actor: 'merchant:m_1', merchantId: 'm_1', paymentId });
    return { ...card, context: { merchantId: 'm_1', paymentId } };
  }

  it('after an authorization: sealed, tokenized, read once, CVV purged after it', async () => {
    const { intakeRef, cvvRef, context } = await sealed('pay_auth');
    clock += 1_000;
    const { token } = await vault.tokenize(intakeRef, context);
    clock += 1_000;
    await vault.withCardForAuthorization(token, cvvRef, EXPIRY, context, async () => 'approved');
    clock += 1_000;
    await vault.purgeCvv(cvvRef, context);

    const attestation = await attestations.forPayment('pay_auth');
    expect(attestation).toMatchObject({
      object: 'card_data_attestation',
      payment: 'pay_auth',
      card: { intake: intakeRef, sealed_at: '2026-12-03T09:00:00.000Z', sealed_by: 'merchant:m_1', tokenized_at: '2026-12-03T09:00:01.000Z' },
      cvv: { ref: cvvRef, status: 'destroyed', destroyed_at: '2026-12-03T09:00:03.000Z', destroyed_how: 'after_authorization', retained_until: null },
      authorizations: [{ at: '2026-12-03T09:00:02.000Z', purpose: 'authorization' }],
      chain: { verified: true, problem: null },
    });
    expect(attestation!.events.map((e) => e.action)).toEqual(['card.seal', 'card.tokenize', 'card.detokenize', 'cvv.purge']);
    expect(JSON.stringify(attestation)).not.toContain(TEST_CARDS.visa);
  });

  it('at review end: held for the review, purged without an authorization', async () => {
    const { intakeRef, cvvRef, context } = await sealed('pay_review', TEST_CARDS.mastercard);
    await vault.tokenize(intakeRef, context);
    await vault.retainCvv(cvvRef, clock + 60 * MINUTE, context);
    clock += 10 * MINUTE;
    await vault.purgeCvv(cvvRef, context);
    expect(await attestations.forPayment('pay_review')).toMatchObject({
      cvv: { status: 'destroyed', destroyed_how: 'at_review_end', retained_until: '2026-12-03T10:00:00.000Z', destroyed_at: '2026-12-03T09:10:00.000Z' },
      authorizations: [],
      chain: { verified: true },
    });
  });

  it('by the TTL: never used, destroyed by the sweeper; held until then', async () => {
    const { cvvRef } = await sealed('pay_ttl', TEST_CARDS.amex);
    expect(await attestations.forPayment('pay_ttl')).toMatchObject({ cvv: { ref: cvvRef, status: 'held', destroyed_at: null, destroyed_how: null } });
    clock += 31 * MINUTE;
    await vault.sweepExpired();
    expect(await attestations.forPayment('pay_ttl')).toMatchObject({
      card: { tokenized_at: null },
      cvv: { status: 'destroyed', destroyed_how: 'ttl_expiry', destroyed_at: '2026-12-03T09:31:00.000Z' },
      chain: { verified: true },
    });
  });

  it('a payment that could not start: the API discards what it sealed', async () => {
    const card = await sealed('pay_not_started');
    await intake.discard(card);
    expect(await attestations.forPayment('pay_not_started')).toMatchObject({ cvv: { status: 'destroyed', destroyed_how: 'payment_not_started' } });
  });

  it('knows nothing of a payment no card was sealed for', async () => {
    await sealed('pay_other');
    expect(await attestations.forPayment('pay_unknown')).toBeUndefined();
  });

  it('a row edited behind the append-only trigger fails the chain check, by row', async () => {
    const { intakeRef, cvvRef, context } = await sealed('pay_tampered');
    await vault.tokenize(intakeRef, context);
    await vault.purgeCvv(cvvRef, context);
    const before = await attestations.forPayment('pay_tampered');
    expect(before!.chain.verified).toBe(true);
    const purge = before!.events.find((e) => e.action === 'cvv.purge')!;

    // What an attacker with the database's owner rights could do: drop the trigger, rewrite the purge's time.
    if (store.db.dialect === 'postgres') await store.db.execute('DROP TRIGGER audit_log_no_change ON audit_log');
    else await store.db.execute('DROP TRIGGER audit_log_no_update');
    await store.db.execute('UPDATE audit_log SET at = at - 3600000 WHERE seq = $1', [purge.seq]);

    const after = await attestations.forPayment('pay_tampered');
    expect(after!.chain).toEqual({ verified: false, rows: before!.chain.rows, problem: `row ${purge.seq}: its hash does not match its content (edited)` });
  });
});
