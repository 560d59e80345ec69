/**
 * `npm run worker:records`: writes the payment records (src/records) the workflow sends at every
 * transition with the merchant ledger's postings (src/ledger), and purges them past RECORDS_RETENTION_DAYS (daily schedule, audited). No card data
 * and no keys but the payload codec's; it shares the gateway's database (in development, the same
 * SQLite file) for its own tables and the audit log.
 */
import { Client, Connection } from '@temporalio/client';
import { createRecordsActivities } from '../activities/records';
import { AuditLog } from '../audit/audit-log';
import { exitOnFailure } from '../process/lifecycle';
import { MerchantLedger } from '../ledger/merchant-ledger';
import { PaymentRecords } from '../records/payment-records';
import { ensureRetentionSchedule } from '../records/retention-schedule';
import { openDb } from '../storage/open-db';
import { temporalAddress, temporalTls } from '../temporal/connection';
import { runWorkerProcess } from './run-worker';

const DAY_MS = 86_400_000;

exitOnFailure(
  'worker:records',
  runWorkerProcess('records', async ({ env, logger, metrics }) => {
    const db = await openDb({ databaseUrl: env.DATABASE_URL, dataDir: env.DATA_DIR });
    const records = new PaymentRecords(db, env.RECORDS_RETENTION_DAYS * DAY_MS, new MerchantLedger({ feeBps: env.MERCHANT_FEE_BPS }));
    metrics.initRecordWrites();
    logger.info({ database: db.dialect, retentionDays: env.RECORDS_RETENTION_DAYS, feeBps: env.MERCHANT_FEE_BPS }, 'payment records and merchant ledger ready');
    return {
      activities: createRecordsActivities({ records, audit: new AuditLog(db), onWrite: (result) => metrics.recordRecordWrite(result) }),
      async onPolling() {
        const connection = await Connection.connect({ address: temporalAddress(env), tls: temporalTls(env) });
        try {
          const schedule = await ensureRetentionSchedule(new Client({ connection, namespace: env.TEMPORAL_NAMESPACE }));
          logger.info({ schedule }, 'records retention schedule');
        } finally {
          await connection.close();
        }
      },
      close: () => db.close(),
    };
  }),
);
