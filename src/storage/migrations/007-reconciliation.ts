import type { Migration } from './migration';

/**
 * Daily reconciliation (src/reconciliation): one report per UTC day, the acquirer's settlement
 * report matched line by line with the merchant ledger. A re-run of a day replaces its report;
 * the audit log keeps every run and every mismatch found.
 */
const tables = `
CREATE TABLE reconciliation_reports (
  report_date TEXT PRIMARY KEY,
  ran_at BIGINT NOT NULL,
  acquirer_lines INTEGER NOT NULL,
  gateway_lines INTEGER NOT NULL,
  matched INTEGER NOT NULL,
  mismatch_count INTEGER NOT NULL,
  mismatches TEXT NOT NULL
);
`;

export const migration: Migration = {
  version: 7,
  name: 'reconciliation',
  sqlite: tables,
  postgres: tables,
};
