import { isDeepStrictEqual } from 'node:util';

/**
 * Deep equality of two JSON values, key order aside. Through JSON first: rows read by the native
 * SQLite driver come in arrays of Node's own realm, not jest's, which `isDeepStrictEqual` tells apart.
 */
export const sameJson = (a: unknown, b: unknown): boolean => isDeepStrictEqual(JSON.parse(JSON.stringify(a ?? null)), JSON.parse(JSON.stringify(b ?? null)));
