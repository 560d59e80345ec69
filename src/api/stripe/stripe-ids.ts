import { randomBytes } from 'node:crypto';

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A Stripe-style object id: `pm_`, `pi_`, … and 24 random alphanumerics (142 bits). */
export function stripeId(prefix: 'pm' | 'pi'): string {
  let out = '';
  while (out.length < 24) {
    for (const byte of randomBytes(32)) if (byte < 248 && out.length < 24) out += ALPHANUMERIC[byte % 62];
  }
  return `${prefix}_${out}`;
}
