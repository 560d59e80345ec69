import type { Migration } from './migration';

/**
 * Lookups into the audit log by payment and by subject (an intake, a CVV, a token), for the
 * retention attestation (GET /v1/payments/:id/card_data, src/audit/card-data-attestation.ts):
 * without them every request would read the whole chain.
 */
const indexes = `
CREATE INDEX audit_log_by_payment ON audit_log (payment_id);
CREATE INDEX audit_log_by_subject ON audit_log (subject);
`;

export const migration: Migration = {
  version: 10,
  name: 'audit-lookups',
  sqlite: indexes,
  postgres: indexes,
};
