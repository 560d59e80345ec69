import { createHash } from 'node:crypto';

/**
 * The card key the fraud features use (DESIGN.md §3a: internal to the fraud and vault workers,
 * never shown to a merchant). It is derived from the vault's token: random, one per card number
 * whatever the merchant, and itself never shown to merchants. The fraud tables store only this
 * hash, so a leaked fraud table names no token the vault would accept.
 */
export function cardKeyOf(vaultToken: string): string {
  return `ck_${createHash('sha256').update(`fraud-card-key\0${vaultToken}`).digest('base64url').slice(0, 27)}`;
}
