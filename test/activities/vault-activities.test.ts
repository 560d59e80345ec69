import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { AcquirerUnavailableError, type AuthorizationRequest, type AuthorizationResult, type CardAuthorizer } from '../../src/acquirer/acquirer-client';
import { createVaultActivities } from '../../src/activities/vault';
import { AuditLog } from '../../src/audit/audit-log';
import { migrate } from '../../src/storage/migrate';
import { SqliteDb } from '../../src/storage/sqlite-db';
import { CardIntake } from '../../src/vault/card-intake';
import { CachingKeyProvider } from '../../src/vault/keys/data-key-cache';
import { LocalKeyProvider } from '../../src/vault/keys/local-key-provider';
import { Vault, type TokenizedCard } from '../../src/vault/vault';
import { TEST_CARDS, TEST_CVCS, cardSecrets, testCard } from '../helpers/test-cards';

/**
 * The vault activities on real SQLite and real crypto. The acquirer here is the activity's
 * collaborator, recorded to check what the activity hands over; the real sandbox is exercised by
 * the lifecycle tests.
 */
describe('vault activities', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vault-activities-'));
  let db: SqliteDb;
  let intake: CardIntake;
  let activities: ReturnType<typeof createVaultActivities>;
  const requests: AuthorizationRequest[] = [];
  /** What the acquirer does with the next authorization: answer, or fail as an unreachable acquirer does. */
  let acquirerFails = false;
  const env = new MockActivityEnvironment();

  beforeAll(async () => {
    db = SqliteDb.open(path.join(dir, 'vault.db'));
    await migrate(db);
    const keys = new CachingKeyProvider(LocalKeyProvider.open(path.join(dir, 'master-key.json')));
    const audit = new AuditLog(db);
    intake = new CardIntake(db, audit, { ttlMs: 60_000 });
    const acquirer: CardAuthorizer = {
      async authorize(request): Promise<AuthorizationResult> {
        requests.push(request);
        if (acquirerFails) throw new AcquirerUnavailableError('the test acquirer is down');
        return { outcome: 'approved', acquirerRef: 'acq_1', authorizationCode: 'A1B2C3' };
      },
    };
    activities = createVaultActivities({ vault: await Vault.open(db, keys, audit), acquirer });
  });
  afterAll(async () => {
    await db.close();
  });

  const ids = { merchantId: 'm_1', paymentId: 'pay_1' };

  it('tokenize returns only public metadata and references', async () => {
    const { intakeRef } = await intake.seal(testCard(TEST_CARDS.visa), { actor: 'api' });
    const card = await env.run(activities.tokenize, { intakeRef, ...ids });
    expect(card).toMatchObject({ brand: 'visa', last4: '4242' });
    const serialized = JSON.stringify(card);
    for (const secret of cardSecrets()) expect(serialized).not.toContain(secret);
  });

  it('authorize gives the acquirer the card and a stable idempotency key, and returns only its answer', async () => {
    const { intakeRef, cvvRef } = await intake.seal(testCard(TEST_CARDS.visa), { actor: 'api' });
    const { token } = (await env.run(activities.tokenize, { intakeRef, ...ids })) as TokenizedCard;
    const answer = await env.run(activities.authorize, { token, cvvRef, expMonth: 12, expYear: 2030, amount: 1999, currency: 'USD', ...ids });
    expect(answer).toEqual({ outcome: 'approved', acquirerRef: 'acq_1', authorizationCode: 'A1B2C3', cvvPurged: true });
    expect(requests.at(-1)).toEqual({
      pan: TEST_CARDS.visa,
      cvc: TEST_CVCS[0],
      expMonth: 12,
      expYear: 2030,
      amount: 1999,
      currency: 'USD',
      merchantId: 'm_1',
      idempotencyKey: 'pay_1:authorize',
    });
  });

  it('after purgeCvv, authorize fails for good with cvv_not_found; purge is idempotent', async () => {
    const { intakeRef, cvvRef } = await intake.seal(testCard(TEST_CARDS.mastercard), { actor: 'api' });
    const { token } = (await env.run(activities.tokenize, { intakeRef, ...ids })) as TokenizedCard;
    expect(await env.run(activities.purgeCvv, { cvvRef, ...ids })).toEqual({ purged: true });
    expect(await env.run(activities.purgeCvv, { cvvRef, ...ids })).toEqual({ purged: false });
    const failure = await env.run(activities.authorize, { token, cvvRef, expMonth: 12, expYear: 2030, amount: 100, currency: 'USD', ...ids }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'cvv_not_found', nonRetryable: true });
    for (const secret of cardSecrets()) expect((failure as Error).message).not.toContain(secret);
  });

  it('authorize destroys the CVV once the acquirer has answered, and only then', async () => {
    const cvvExists = async (cvvRef: string) => (await db.query('SELECT id FROM cvv_records WHERE id = $1', [cvvRef])).length === 1;
    const { intakeRef, cvvRef } = await intake.seal(testCard(TEST_CARDS.visa), { actor: 'api' });
    const { token } = (await env.run(activities.tokenize, { intakeRef, ...ids })) as TokenizedCard;
    const request = { token, cvvRef, expMonth: 12, expYear: 2030, amount: 500, currency: 'USD', ...ids };

    // No answer (the acquirer is down): the CVV stays for the retry, which sends it again.
    acquirerFails = true;
    await expect(env.run(activities.authorize, request)).rejects.toThrow();
    acquirerFails = false;
    expect(await cvvExists(cvvRef)).toBe(true);

    const answer = await env.run(activities.authorize, request);
    expect(answer).toMatchObject({ outcome: 'approved', cvvPurged: true });
    expect(await cvvExists(cvvRef)).toBe(false);
    const [purge] = await db.query<{ action: string; outcome: string }>("SELECT action, outcome FROM audit_log WHERE action = 'cvv.purge' AND subject = $1", [cvvRef]);
    expect(purge).toMatchObject({ action: 'cvv.purge', outcome: 'success' });

    // The same attempt again (its result was lost after the purge): no CVV, a final failure; the
    // workflow then reads the answer back from the acquirer by its key (known-outcome.ts).
    await expect(env.run(activities.authorize, request)).rejects.toMatchObject({ type: 'cvv_not_found', nonRetryable: true });
  });

  it('a stored credential (no CVV) is authorized with nothing to purge', async () => {
    const { intakeRef } = await intake.seal(testCard(TEST_CARDS.visa), { actor: 'api' });
    const { token } = (await env.run(activities.tokenize, { intakeRef, ...ids })) as TokenizedCard;
    const answer = await env.run(activities.authorize, { token, expMonth: 12, expYear: 2030, amount: 500, currency: 'USD', ...ids });
    expect(answer).toEqual({ outcome: 'approved', acquirerRef: 'acq_1', authorizationCode: 'A1B2C3' });
  });

  it('an unknown intake fails for good with intake_not_found', async () => {
    await expect(env.run(activities.tokenize, { intakeRef: 'int_AAAAAAAAAAAAAAAAAAAAAA', ...ids })).rejects.toMatchObject({
      type: 'intake_not_found',
      nonRetryable: true,
    });
  });
});
