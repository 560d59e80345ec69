import type { Migration } from './migration';

/**
 * One round trip for what a fraud check reads (src/fraud/fraud-store.ts, `openCheck`), on
 * PostgreSQL: `fraud_check_context` takes the check's advisory locks in the order given (the card's,
 * then the feature states' sorted keys: deadlock-free), and only then reads the payment's previous
 * check, the blocklist, both velocity counts and the feature states. It is a VOLATILE PL/pgSQL
 * function so that the reads after the locks take a fresh snapshot (READ COMMITTED): they see what
 * the check that held the lock before committed. A single SELECT that locked and read in one
 * statement would read a snapshot taken before its lock wait, and so miss that check.
 *
 * SQLite needs nothing: it is in-process (no round trips) and its write transactions are exclusive.
 */
const postgres = `
CREATE FUNCTION fraud_check_context(
  lock_classes INTEGER[], lock_keys TEXT[],
  check_payment_id TEXT, check_fingerprint TEXT, check_merchant_id TEXT,
  fingerprint_since BIGINT, merchant_since BIGINT, state_entities TEXT[]
) RETURNS TABLE (previous JSON, blocked BIGINT, by_fingerprint BIGINT, by_merchant BIGINT, states JSON)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  FOR i IN 1 .. COALESCE(array_length(lock_keys, 1), 0) LOOP
    PERFORM pg_advisory_xact_lock(lock_classes[i], hashtext(lock_keys[i]));
  END LOOP;
  RETURN QUERY SELECT
    (SELECT row_to_json(c) FROM (
       SELECT payment_id, fingerprint, merchant_id, amount, currency, decision, reasons, created_at
       FROM fraud_checks WHERE payment_id = check_payment_id) c),
    (SELECT COUNT(*) FROM fraud_blocklist WHERE fingerprint = check_fingerprint),
    (SELECT COUNT(*) FROM fraud_checks WHERE fingerprint = check_fingerprint AND created_at > fingerprint_since AND payment_id <> check_payment_id),
    (SELECT COUNT(*) FROM fraud_checks WHERE merchant_id = check_merchant_id AND created_at > merchant_since AND payment_id <> check_payment_id),
    (SELECT json_object_agg(entity, state) FROM fraud_feature_states WHERE entity = ANY (state_entities));
END
$$;
`;

export const migration: Migration = {
  version: 12,
  name: 'fraud-check-context',
  sqlite: '-- nothing: SQLite is in-process, see above',
  postgres,
};
