import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createFraudActivities, type FraudCheckInput, type FraudCheckResult, type FraudReportResult } from '../../src/activities/fraud';
import { AuditLog } from '../../src/audit/audit-log';
import { cardKeyOf } from '../../src/fraud/card-key';
import { FraudChecker } from '../../src/fraud/fraud-checker';
import { FraudStore } from '../../src/fraud/fraud-store';
import { FraudModel, defaultModelFile } from '../../src/fraud/model';
import { fraudRulesConfig } from '../../src/fraud/rules';
import { migrate } from '../../src/storage/migrate';
import { SqliteDb } from '../../src/storage/sqlite-db';
import { CardIntake } from '../../src/vault/card-intake';
import { CachingKeyProvider } from '../../src/vault/keys/data-key-cache';
import { LocalKeyProvider } from '../../src/vault/keys/local-key-provider';
import { Vault, type TokenizedCard } from '../../src/vault/vault';
import { TEST_CARDS, cardSecrets, testCard } from '../helpers/test-cards';

/**
 * The fraud activities on real SQLite, fed the card metadata the real vault produces, as the payment
 * workflow does: the vault tokenizes, and its TokenizedCard is all the fraud check gets.
 */
describe('fraud activities', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fraud-activities-'));
  const env = new MockActivityEnvironment({ taskQueue: 'fraud' }, { logger: new DefaultLogger('ERROR') });
  let db: SqliteDb;
  let store: FraudStore;
  let activities: ReturnType<typeof createFraudActivities>;
  let tokenize: (pan: string) => Promise<TokenizedCard>;
  let sequence = 0;

  beforeAll(async () => {
    db = SqliteDb.open(path.join(dir, 'vault.db'));
    await migrate(db);
    const keys = new CachingKeyProvider(LocalKeyProvider.open(path.join(dir, 'master-key.json')));
    const audit = new AuditLog(db);
    const intake = new CardIntake(db, audit, { ttlMs: 60_000 });
    const vault = await Vault.open(db, keys, audit);
    tokenize = async (pan) => vault.tokenize((await intake.seal(testCard(pan), { actor: 'api' })).intakeRef, { merchantId: 'm_test' });
    store = new FraudStore(db);
    activities = createFraudActivities({ checker: new FraudChecker(store, fraudRulesConfig({ sandboxRules: true })) });
  });
  afterAll(async () => {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function checkFraud(pan: string, overrides: Partial<FraudCheckInput> = {}): Promise<{ input: FraudCheckInput; decision: FraudCheckResult }> {
    sequence += 1;
    // The whole TokenizedCard, as the workflow passes it on: the activity keeps what the rules need.
    const card = await tokenize(pan);
    const input = { paymentId: `pay_${sequence}`, merchantId: 'm_test', amount: 1999, currency: 'USD', card, cardToken: card.token, ...overrides };
    return { input, decision: (await env.run(activities.checkFraud, input)) as FraudCheckResult };
  }

  it('approves an ordinary card', async () => {
    expect((await checkFraud(TEST_CARDS.visa)).decision).toEqual({ decision: 'approve', reasons: [] });
  });

  it('declines the sandbox blocklisted card and reviews the sandbox review card, from the vault metadata alone', async () => {
    expect((await checkFraud(TEST_CARDS.fraudBlocklisted)).decision).toEqual({
      decision: 'decline',
      reasons: [{ rule: 'blocklist', detail: expect.stringMatching(/^card fp_\S+ \(…0019\) is the sandbox's blocklisted test card$/) }],
    });
    expect((await checkFraud(TEST_CARDS.fraudReview)).decision).toEqual({
      decision: 'review',
      reasons: [{ rule: 'sandbox_review', detail: expect.stringContaining('(…4954)') }],
    });
  });

  it("declines a card blocklisted by the fraud engine's card key (the same at every merchant)", async () => {
    const card = await tokenize(TEST_CARDS.discover);
    await store.addToBlocklist({ fingerprint: cardKeyOf(card.token), reason: 'chargeback fraud', at: Date.now() });
    expect((await checkFraud(TEST_CARDS.discover)).decision.decision).toBe('decline');
  });

  it('answers a retried activity with the first decision, counting the payment once', async () => {
    const { input, decision } = await checkFraud(TEST_CARDS.mastercard, { amount: 300_000 });
    expect(decision.decision).toBe('review');
    expect(await env.run(activities.checkFraud, input)).toEqual(decision);
    expect(await store.countRecentByFingerprint(cardKeyOf(input.cardToken!), 0)).toBe(1);
  });

  it('puts no card data in its input or result payloads', async () => {
    for (const pan of [TEST_CARDS.amex, TEST_CARDS.fraudBlocklisted, TEST_CARDS.fraudReview]) {
      const { input, decision } = await checkFraud(pan, { amount: 5_000_000 });
      const serialized = JSON.stringify({ input, decision });
      for (const secret of cardSecrets()) expect(serialized).not.toContain(secret);
    }
  });

  it('fails for good, without retrying, on a malformed input', async () => {
    const card = await tokenize(TEST_CARDS.visa);
    const failure = await env
      .run(activities.checkFraud, { paymentId: 'pay_bad', merchantId: 'm_1', amount: -5, currency: 'usd', card } as FraudCheckInput)
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ nonRetryable: true, type: 'InvalidFraudCheckInput' });
    expect((failure as Error).message).toMatch(/amount: .*; currency: must be an ISO 4217 code/);
    expect(await store.findCheck('pay_bad')).toBeUndefined();
  });

  it('keeps answering the readiness probe', async () => {
    expect(await env.run(activities.ping)).toEqual({ taskQueue: 'fraud', worker: `${os.hostname()}:${process.pid}` });
  });
});

/**
 * With the model: the activity's answer carries the score, the model version and the operator's
 * reasons; the card key the features are stored under is a hash of the vault's token (the token itself
 * is in no fraud table); reports are idempotent and name no card data.
 */
describe('fraud activities with the model', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fraud-model-activities-'));
  const env = new MockActivityEnvironment({ taskQueue: 'fraud' }, { logger: new DefaultLogger('ERROR') });
  let db: SqliteDb;
  let activities: ReturnType<typeof createFraudActivities>;
  let tokenize: (pan: string) => Promise<TokenizedCard>;

  beforeAll(async () => {
    db = SqliteDb.open(path.join(dir, 'vault.db'));
    await migrate(db);
    const keys = new CachingKeyProvider(LocalKeyProvider.open(path.join(dir, 'master-key.json')));
    const audit = new AuditLog(db);
    const intake = new CardIntake(db, audit, { ttlMs: 60_000 });
    const vault = await Vault.open(db, keys, audit);
    tokenize = async (pan) => vault.tokenize((await intake.seal(testCard(pan), { actor: 'api' })).intakeRef, { merchantId: 'm_test' });
    const model = FraudModel.load(defaultModelFile());
    activities = createFraudActivities({ checker: new FraudChecker(new FraudStore(db), { rules: fraudRulesConfig({ sandboxRules: true }), model }) });
  });
  afterAll(async () => {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('scores with the model, keys the features by a hash of the token, and reports idempotently', async () => {
    const card = await tokenize(TEST_CARDS.visa);
    const input = { paymentId: 'pay_model_1', merchantId: 'm_1', amount: 1999, currency: 'USD', card, cardToken: card.token };
    const decision = (await env.run(activities.checkFraud, input)) as FraudCheckResult;
    expect(decision).toEqual(
      expect.objectContaining({ decision: 'approve', score: expect.any(Number), modelVersion: expect.stringMatching(/^fraud-/), scoredAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) }),
    );
    expect(await env.run(activities.checkFraud, input)).toEqual(decision);

    const tables = ['fraud_feature_states', 'fraud_scores', 'fraud_checks'];
    // nosemgrep: gateway.sql-built-from-string -- table names from the constant list above; a table name cannot be bound
    const dump = JSON.stringify(await Promise.all(tables.map((t) => db.query(`SELECT * FROM ${t}`))));
    expect(dump).not.toContain(card.token);
    expect(dump).toContain('card:ck_');
    for (const secret of cardSecrets()) expect(dump).not.toContain(secret);

    const first = (await env.run(activities.reportFraud, { paymentId: 'pay_model_1', reason: 'chargeback', reportedBy: 'operator:ann' })) as FraudReportResult;
    expect(first).toEqual({ paymentId: 'pay_model_1', status: 'recorded', scored: true, reason: 'chargeback', reportedBy: 'operator:ann', reportedAt: expect.any(String) });
    expect(await env.run(activities.reportFraud, { paymentId: 'pay_model_1', reportedBy: 'operator:bob' })).toEqual({ ...first, status: 'already_reported' });
    const bad = await env.run(activities.reportFraud, { paymentId: '', reportedBy: 'x' }).catch((e: unknown) => e);
    expect(bad).toMatchObject({ nonRetryable: true, type: 'InvalidFraudReportInput' });
  });
});
