import { randomBytes } from 'node:crypto';

/**
 * Opaque references handed out by the vault. Random, never derived from card data
 * (DESIGN.md §3, invariant 5), with a prefix that says what they point to.
 */
export type ReferenceKind = 'tok' | 'int' | 'cvv';

export function newReference(kind: ReferenceKind): string {
  return `${kind}_${randomBytes(16).toString('base64url')}`;
}

export function isReference(kind: ReferenceKind, value: string): boolean {
  return new RegExp(`^${kind}_[A-Za-z0-9_-]{22}$`).test(value);
}
