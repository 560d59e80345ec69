import { createHmac } from 'node:crypto';
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';

/** A 2xx within this long is a delivery (Stripe and Svix allow about as long). */
export const DELIVERY_TIMEOUT_MS = 10_000;
/** How much of an endpoint's answer is read (and kept, for the merchant to see). */
const MAX_ANSWER_BYTES = 4_096;

/** Stripe's signature header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export function signatureHeader(secret: string, body: string, atSeconds: number): string {
  const v1 = createHmac('sha256', secret).update(`${atSeconds}.${body}`).digest('hex');
  return `t=${atSeconds},v1=${v1}`;
}

/**
 * Whether an address may receive webhooks. In production (`allowLoopback` false) no private,
 * loopback, link-local, unique-local, CGNAT or unspecified address: a webhook URL must not reach
 * into the gateway's own network (SSRF). Loopback is allowed in development.
 */
export function addressAllowed(address: string, allowLoopback: boolean): boolean {
  const v4 = net.isIPv4(address) ? address : /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (v4) {
    const [a, b] = v4.split('.').map(Number) as [number, number];
    if (a === 127) return allowLoopback;
    return !(a === 0 || a === 10 || (a === 100 && b >= 64 && b <= 127) || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || a >= 224);
  }
  const v6 = address.toLowerCase();
  if (v6 === '::1') return allowLoopback;
  return !(v6 === '::' || v6.startsWith('fc') || v6.startsWith('fd') || /^fe[89ab]/.test(v6) || v6.startsWith('ff'));
}

export interface DeliveryResult {
  ok: boolean;
  httpStatus?: number;
  error?: string;
  durationMs: number;
}

/**
 * POSTs a signed event. The address is checked after DNS resolution, on the address actually
 * connected to (a name that resolves to a private address, or rebinds to one, is refused); no
 * redirect is followed (a 3xx is a failure); the answer is read up to a bound.
 */
export function sendWebhook(url: string, body: string, headers: Record<string, string>, options: { allowLoopback: boolean }): Promise<DeliveryResult> {
  const started = Date.now();
  const target = new URL(url);
  const transport = target.protocol === 'https:' ? https : http;
  // Node asks for every address (`all`, for happy eyeballs) or for one: each one given is checked.
  const lookup = ((hostname: string, opts: dns.LookupOptions, callback: (err: Error | null, address: string | dns.LookupAddress[], family?: number) => void) => {
    dns.lookup(hostname, { ...opts, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const refused = addresses.find((a) => !addressAllowed(a.address, options.allowLoopback));
      if (refused || addresses.length === 0) return callback(new Error(`webhook URL resolves to a disallowed address (${refused?.address ?? 'none'})`), '', 0);
      if (opts.all) return callback(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  }) as unknown as net.LookupFunction;
  return new Promise((resolve) => {
    const done = (result: Omit<DeliveryResult, 'durationMs'>) => resolve({ ...result, durationMs: Date.now() - started });
    // A literal IP skips the lookup: checked here instead.
    const literal = net.isIP(target.hostname.replace(/^\[|\]$/g, '')) ? target.hostname.replace(/^\[|\]$/g, '') : undefined;
    if (literal && !addressAllowed(literal, options.allowLoopback)) {
      done({ ok: false, error: `webhook URL is a disallowed address (${literal})` });
      return;
    }
    const req = transport.request(
      target,
      { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'user-agent': 'card-gateway-webhooks/1', ...headers }, lookup, timeout: DELIVERY_TIMEOUT_MS },
      (res) => {
        let read = 0;
        res.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_ANSWER_BYTES) res.destroy();
        });
        const finish = () => {
          const status = res.statusCode ?? 0;
          done(status >= 200 && status < 300 ? { ok: true, httpStatus: status } : { ok: false, httpStatus: status, error: status >= 300 && status < 400 ? 'redirects are not followed' : `answered ${status}` });
        };
        res.on('end', finish);
        res.on('close', finish);
      },
    );
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${DELIVERY_TIMEOUT_MS} ms`)), DELIVERY_TIMEOUT_MS);
    req.on('timeout', () => req.destroy(new Error(`no answer within ${DELIVERY_TIMEOUT_MS} ms`)));
    req.on('error', (err) => done({ ok: false, error: err.message.slice(0, 200) }));
    req.on('close', () => clearTimeout(timer));
    req.end(body);
  });
}
