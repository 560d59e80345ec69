import type { AuditLog } from '../audit/audit-log';
import type { Db } from '../storage/db';
import type { KeyProvider, KeyPurpose, MasterKeyRef } from './keys/key-provider';
import { HPKE_KEY_ID_PREFIX, INTAKE_KEY_NAME } from './sealed-formats';

/**
 * Every table that stores wrapped data keys, and what its keys protect. HPKE-sealed intakes and
 * CVVs (key id `hpke:…`) hold no wrapped key: their keys are the intake key (a vault secret,
 * re-wrapped here) and the CVV epoch keys (never stored, so nothing to re-wrap).
 */
const WRAPPED_KEY_TABLES: { table: string; purpose: KeyPurpose; where?: string }[] = [
  { table: 'cards', purpose: 'card-pan' },
  { table: 'card_intakes', purpose: 'card-intake', where: `key_id NOT LIKE '${HPKE_KEY_ID_PREFIX}%'` },
  { table: 'cvv_records', purpose: 'card-cvv', where: `key_id NOT LIKE '${HPKE_KEY_ID_PREFIX}%'` },
  { table: 'vault_secrets', purpose: 'fingerprint-secret', where: `name <> '${INTAKE_KEY_NAME}'` },
  { table: 'vault_secrets', purpose: 'card-intake', where: `name = '${INTAKE_KEY_NAME}'` },
];

export interface RotationReport {
  to: MasterKeyRef;
  /** Distinct wrapped data keys re-wrapped, per table. */
  rewrapped: Record<string, number>;
}

/**
 * Re-wraps every stored data key that is not under the provider's current master key. The data
 * itself is not touched: its associated data names the record, not the master key. Safe to run
 * again (it only picks up keys still under older versions, e.g. written by a process whose key
 * cache predates the rotation), and recorded in the audit log.
 */
export async function rewrapDataKeys(db: Db, keys: KeyProvider, audit: AuditLog, actor: string): Promise<RotationReport> {
  const to = keys.currentKey();
  const rewrapped: Record<string, number> = {};
  for (const { table, purpose, where } of WRAPPED_KEY_TABLES) {
    const stale = await db.query<{ key_id: string; key_version: number; wrapped_key: Buffer }>(
      `SELECT DISTINCT key_id, key_version, wrapped_key FROM ${table}
       WHERE wrapped_key IS NOT NULL AND NOT (key_id = $1 AND key_version = $2)${where ? ` AND ${where}` : ''}`,
      [to.keyId, to.keyVersion],
    );
    rewrapped[table] ??= 0;
    for (const row of stale) {
      const from = { keyId: row.key_id, keyVersion: row.key_version };
      const next = await keys.rewrapDataKey(from, row.wrapped_key, purpose);
      const updated = await db.execute(
        `UPDATE ${table} SET key_id = $1, key_version = $2, wrapped_key = $3
         WHERE key_id = $4 AND key_version = $5 AND wrapped_key = $6`,
        [next.ref.keyId, next.ref.keyVersion, next.wrapped, from.keyId, from.keyVersion, row.wrapped_key],
      );
      if (updated > 0) rewrapped[table]! += 1;
    }
  }
  await audit.append({
    actor,
    action: 'key.rotate',
    subject: `${to.keyId} v${to.keyVersion}`,
    outcome: 'success',
    details: Object.fromEntries(Object.entries(rewrapped).map(([t, n]) => [`rewrapped_${t}`, n])),
  });
  return { to, rewrapped };
}
