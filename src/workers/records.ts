/**
 * `npm run worker:records`: writes the payment records (src/records) the workflow sends at every
 * transition with the merchant ledger's postings (src/ledger), purges them past RECORDS_RETENTION_DAYS (daily schedule, audited),
 * and reconciles each day's ledger with the acquirer's settlement report (src/reconciliation, at the settlement cutoff). No card data
 * and no keys but the payload codec's; it shares the gateway's database (in development, the same
 * SQLite file) for its own tables and the audit log.
 */
import { Client } from '@temporalio/client';
import { connectCloseSafe } from '../temporal/close-safe-connection';
import { acquirerFromEnv } from '../acquirer/acquirer-from-env';
import { createReconciliationActivities } from '../activities/reconciliation';
import { createRecordsActivities } from '../activities/records';
import { AuditLog } from '../audit/audit-log';
import { exitOnFailure } from '../process/lifecycle';
import { LedgerReader, MerchantLedger } from '../ledger/merchant-ledger';
import { ensureReconciliationSchedule } from '../reconciliation/reconciliation-schedule';
import { ReconciliationReports } from '../reconciliation/reconciliation-reports';
import { PaymentRecords } from '../records/payment-records';
import { ensureRetentionSchedule } from '../records/retention-schedule';
import { openDb } from '../storage/open-db';
import { createLazyClient, temporalAddress, temporalCredentials } from '../temporal/connection';
import { gatewayDataConverter } from '../temporal/data-converter';
import { createWebhookActivities } from '../activities/webhooks';
import { dispatchEvents } from '../events/dispatch';
import { runWorkerProcess } from './run-worker';

const DAY_MS = 86_400_000;

exitOnFailure(
  'worker:records',
  runWorkerProcess('records', async ({ env, logger, keys, metrics }) => {
    const db = await openDb({ databaseUrl: env.DATABASE_URL, dataDir: env.DATA_DIR });
    const records = new PaymentRecords(db, env.RECORDS_RETENTION_DAYS * DAY_MS, new MerchantLedger({ feeBps: env.MERCHANT_FEE_BPS }));
    const audit = new AuditLog(db);
    metrics.initRecordWrites();
    // Hands new events to their webhook delivery workflows (src/events/dispatch.ts), with the encrypting converter.
    const client = createLazyClient(env, gatewayDataConverter(keys));
    logger.info({ database: db.dialect, retentionDays: env.RECORDS_RETENTION_DAYS, feeBps: env.MERCHANT_FEE_BPS }, 'payment records and merchant ledger ready');
    return {
      activities: {
        ...createRecordsActivities({ records, audit, onWrite: (result) => metrics.recordRecordWrite(result), dispatch: (stream) => dispatchEvents(db, client, stream) }),
        ...createWebhookActivities({ db, allowLoopback: process.env.NODE_ENV !== 'production', onAttempt: (outcome) => metrics.recordWebhookDelivery(outcome) }),
        ...createReconciliationActivities({
          acquirer: acquirerFromEnv(env),
          ledger: new LedgerReader(db),
          reports: new ReconciliationReports(db),
          audit,
          onMismatches: (found) => metrics.recordReconciliationMismatches(found),
        }),
      },
      async onPolling() {
        const connection = await connectCloseSafe({ address: temporalAddress(env), ...temporalCredentials(env) });
        try {
          // Encrypting, like every client: the workers refuse a schedule's plain arguments (payload-codec.ts).
          const client = new Client({ connection, namespace: env.TEMPORAL_NAMESPACE, dataConverter: gatewayDataConverter(keys) });
          const schedule = await ensureRetentionSchedule(client);
          const reconciliation = await ensureReconciliationSchedule(client, env.SETTLEMENT_CUTOFF_UTC);
          logger.info({ schedule, reconciliation }, 'records retention and daily reconciliation schedules');
        } finally {
          await connection.close();
        }
      },
      close: async () => {
        await client.connection.close().catch(() => undefined);
        await db.close();
      },
    };
  }),
);
