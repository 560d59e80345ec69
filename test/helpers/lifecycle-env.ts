import fs from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { HttpAcquirerClient } from '../../src/acquirer/http-acquirer-client';
import { createSandboxApp } from '../../src/acquirer/sandbox/app';
import { FaultInjector } from '../../src/acquirer/sandbox/faults';
import { Ledger, type LedgerEntry } from '../../src/acquirer/sandbox/ledger';
import { createAcquirerActivities } from '../../src/activities/acquirer';
import { createFraudActivities } from '../../src/activities/fraud';
import { createRecordsActivities } from '../../src/activities/records';
import { createVaultActivities } from '../../src/activities/vault';
import { createWebhookActivities } from '../../src/activities/webhooks';
import { dispatchEvents } from '../../src/events/dispatch';
import { AuditLog } from '../../src/audit/audit-log';
import { FraudChecker } from '../../src/fraud/fraud-checker';
import { FraudStore } from '../../src/fraud/fraud-store';
import { createLogger } from '../../src/logging/logger';
import { Metrics, metricsSinks } from '../../src/observability/metrics';
import { PaymentRecords } from '../../src/records/payment-records';
import { migrate } from '../../src/storage/migrate';
import { SqliteDb } from '../../src/storage/sqlite-db';
import { gatewayDataConverter } from '../../src/temporal/data-converter';
import { SA } from '../../src/temporal/search-attribute-keys';
import { PAYMENT_SEARCH_ATTRIBUTES } from '../../src/temporal/search-attributes';
import { temporal } from '@temporalio/proto';
import { TASK_QUEUES } from '../../src/temporal/task-queues';
import { EncryptionCodec } from '../../src/temporal/payload-codec';
import { CardIntake } from '../../src/vault/card-intake';
import { CachingKeyProvider } from '../../src/vault/keys/data-key-cache';
import { LocalKeyProvider } from '../../src/vault/keys/local-key-provider';
import { LOCAL_PAYLOAD_KEY_ID } from '../../src/vault/keys/open-key-provider';
import { assertNoCardDataInDataDir } from './card-secret-scan';
import { Vault } from '../../src/vault/vault';
import { paymentWorkflow } from '../../src/workflows';
import type { PaymentInput, PaymentPolicy } from '../../src/workflows/payment/state';
import { HistoryRecorder } from './history-recorder';
import { createTimeSkippingEnv } from './time-skipping';
import { testCard } from './test-cards';

export const DAY = 24 * 60 * 60 * 1000;
export const DEFAULT_POLICY: PaymentPolicy = {
  authorizationExpiryMs: 7 * DAY,
  reviewDeadlineMs: DAY,
  settlementCutoffUtc: '22:00',
  refundWindowMs: 180 * DAY,
  // As `npm start` runs (ACQUIRER_SALE defaults to true): automatic capture is a sale.
  automaticCaptureAsSale: true,
};

/**
 * Everything a payment needs, for workflow tests on the time-skipping server: the real
 * activities over a real SQLite vault with real crypto, the real fraud rules, and the real
 * acquirer sandbox (in this process, on a loopback port) behind the real HTTP client. Only
 * Temporal's clock is not real: that is the point.
 */
export interface LifecycleEnv {
  env: TestWorkflowEnvironment;
  client: Client;
  db: SqliteDb;
  /** The vault the vault worker runs (its CVV epoch keys, to simulate a vault worker restart). */
  vault: Vault;
  /** The payment records the records worker writes (src/records). */
  records: PaymentRecords;
  ledger(): LedgerEntry[];
  /** Seals a test card and starts its payment workflow, as the API does. */
  startPayment(options: {
    card: string;
    amount?: number;
    captureMethod?: 'automatic' | 'manual';
    policy?: Partial<PaymentPolicy>;
    /** Recorded for the replay tests when RECORD_HISTORIES is set (default true; false for a path too long to commit). */
    recordHistory?: boolean;
  }): Promise<ReturnType<Client['workflow']['getHandle']>>;
  /** Runs `work` while the five workers poll (they run for the whole environment's life). */
  withWorkers<T>(work: () => Promise<T>): Promise<T>;
  /**
   * Terminates a payment a test is done with, once no activity of it is in flight. The
   * time-skipping server keeps time locked for an activity outstanding when its workflow closes
   * (temporalio/sdk-java#1138): terminating while a record write runs freezes the clock for every
   * later test, which then waits out its timers in real time.
   */
  terminateAtRest(handle: WorkflowHandle): Promise<void>;
  teardown(): Promise<void>;
}

let counter = 0;

export async function createLifecycleEnv(): Promise<LifecycleEnv> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lifecycle-'));
  // As in production: the payload key for every worker and client, the master key for the vault only.
  const keys = new CachingKeyProvider(LocalKeyProvider.open(path.join(dir, 'keys', 'payload-key.json'), { create: true, keyId: LOCAL_PAYLOAD_KEY_ID }));
  const cardKeys = new CachingKeyProvider(LocalKeyProvider.open(path.join(dir, 'keys', 'master-key.json')));
  const clientConverter = gatewayDataConverter(keys);
  // The workers run as src/workers/run-worker.ts runs them: refusing what arrives unencrypted.
  const dataConverter = gatewayDataConverter(keys, { refuseUnencrypted: true });
  // The environment's own client: it lets the server skip time while a test waits on a result.
  const env = await createTimeSkippingEnv(undefined, { dataConverter: clientConverter });
  const client = env.client;
  // With RECORD_HISTORIES set, the teardown records every payment's history for the replay tests (docs/replay.md).
  const recorder = HistoryRecorder.fromEnv(client, new EncryptionCodec(keys));
  // The time-skipping server implements AddSearchAttributes (not ListSearchAttributes): register directly.
  await env.connection.operatorService.addSearchAttributes({
    namespace: 'default',
    searchAttributes: Object.fromEntries(
      Object.entries(PAYMENT_SEARCH_ATTRIBUTES).map(([name, type]) => [
        name,
        type === 'Int' ? temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_INT : temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
      ]),
    ),
  });

  const db = SqliteDb.open(path.join(dir, 'vault.db'));
  await migrate(db);
  const audit = new AuditLog(db);
  // No sweeper runs here: one CVV epoch, alive (and sealable) for the whole test run.
  const vault = await Vault.open(db, cardKeys, audit, { cvvEpochs: { sealWindowMs: 3 * 60 * 60_000, maintenanceIntervalMs: 60 * 60_000 } });
  const intake = new CardIntake(db, audit, { ttlMs: 30 * 60_000 });
  const records = new PaymentRecords(db, 7 * 365 * DAY);

  const ledger = Ledger.open(path.join(dir, 'acquirer.db'));
  const sandbox = createSandboxApp({ ledger, faults: new FaultInjector(), logger: createLogger({ name: 'acquirer-sandbox', level: 'silent' }) });
  const server: Server = await new Promise((resolve) => {
    const s = sandbox.listen(0, '127.0.0.1', () => resolve(s));
  });
  const acquirer = new HttpAcquirerClient({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });

  const connection = env.nativeConnection;
  const workers = await Promise.all([
    Worker.create({
      connection,
      dataConverter,
      taskQueue: TASK_QUEUES.payments,
      workflowsPath: require.resolve('../../src/workflows'),
      sinks: metricsSinks(new Metrics({ defaultMetrics: false })),
    }),
    Worker.create({ connection, dataConverter, taskQueue: TASK_QUEUES.vault, activities: createVaultActivities({ vault, acquirer }) }),
    Worker.create({ connection, dataConverter, taskQueue: TASK_QUEUES.fraud, activities: createFraudActivities({ checker: new FraudChecker(new FraudStore(db)) }) }),
    Worker.create({ connection, dataConverter, taskQueue: TASK_QUEUES.acquirer, activities: createAcquirerActivities({ acquirer }) }),
    Worker.create({
      connection,
      dataConverter,
      taskQueue: TASK_QUEUES.records,
      activities: {
        ...createRecordsActivities({ records, audit, dispatch: (stream) => dispatchEvents(db, client, stream) }),
        ...createWebhookActivities({ db, allowLoopback: true }),
      },
    }),
  ]);

  const running = workers.map((worker) => worker.run());
  // A worker that dies fails the test that is running instead of leaving it to time out.
  const failed = Promise.race(running).then(() => {
    throw new Error('a worker stopped during the test');
  });
  failed.catch(() => undefined);

  return {
    env,
    client,
    db,
    vault,
    records,
    ledger: () => ledger.entries(),
    async startPayment({ card, amount = 1999, captureMethod = 'automatic', policy = {}, recordHistory = true }) {
      const validated = testCard(card);
      const sealed = await intake.seal(validated, { actor: 'test', merchantId: 'm_test' });
      const paymentId = `pay_${String(++counter).padStart(24, '0')}`;
      const input: PaymentInput = {
        paymentId,
        merchantId: 'm_test',
        amount,
        currency: 'USD',
        captureMethod,
        intakeRef: sealed.intakeRef,
        cvvRef: sealed.cvvRef,
        cardSummary: { brand: validated.brand, last4: validated.last4, expMonth: validated.expMonth, expYear: validated.expYear },
        requestHash: 'test',
        policy: { ...DEFAULT_POLICY, ...policy },
      };
      const handle = await client.workflow.start(paymentWorkflow, {
        taskQueue: TASK_QUEUES.payments,
        workflowId: paymentId,
        args: [input],
        typedSearchAttributes: [
          { key: SA.merchantId, value: 'm_test' },
          { key: SA.status, value: 'processing' },
          { key: SA.amount, value: amount },
          { key: SA.currency, value: 'USD' },
          { key: SA.cardBrand, value: validated.brand },
          { key: SA.cardLast4, value: validated.last4 },
        ],
      });
      if (recordHistory) recorder?.track(handle.workflowId, handle.firstExecutionRunId);
      return handle;
    },
    withWorkers<T>(work: () => Promise<T>): Promise<T> {
      return Promise.race([work(), failed]);
    },
    async terminateAtRest(handle) {
      // At rest twice in a row: no workflow task (which may schedule a write) and no activity.
      for (let i = 0, quiet = 0; quiet < 2; i++) {
        const { raw } = await handle.describe();
        quiet = (raw.pendingActivities ?? []).length === 0 && !raw.pendingWorkflowTask ? quiet + 1 : 0;
        if (i >= 200) throw new Error(`${handle.workflowId} still has tasks in flight after 10 s`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await handle.terminate('test done');
    },
    async teardown() {
      for (const worker of workers) worker.shutdown();
      await Promise.allSettled(running);
      // Recorded before the server goes; a recording that fails still lets the teardown finish.
      const recording = recorder?.record().then(
        (recorded) =>
          console.info(
            `Recorded ${recorded.written.length} history file(s) into ${recorder.dir} from ${recorded.executions} payment(s): ` +
              `${recorded.duplicates} path(s) already recorded, ${recorded.open} still open and skipped`,
          ),
        (err: unknown) => err,
      );
      const recordingError = await recording;
      await new Promise((resolve) => server.close(resolve));
      server.closeAllConnections();
      ledger.close();
      await db.close();
      await env.teardown();
      // The vault's and the sandbox's SQLite files, scanned bare before they go.
      const scan = (() => {
        try {
          assertNoCardDataInDataDir(dir);
          return undefined;
        } catch (err) {
          return err;
        }
      })();
      fs.rmSync(dir, { recursive: true, force: true });
      if (scan) throw scan;
      if (recordingError) throw recordingError;
    },
  };
}
