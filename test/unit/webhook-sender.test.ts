import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { addressAllowed, sendWebhook, signatureHeader } from '../../src/events/webhook-sender';

/**
 * The webhook sender (src/events/webhook-sender.ts) over real HTTP: signatures the official
 * client verifies, the address check after DNS (production refuses loopback even by name), no
 * redirects followed.
 */
describe('webhook sender', () => {
  let server: http.Server;
  let url: string;
  const hits: string[] = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      hits.push(req.url!);
      if (req.url === '/redirect') res.writeHead(302, { Location: 'http://169.254.169.254/latest/meta-data' }).end();
      else res.writeHead(204).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://localhost:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => server.close());

  it('signs as Stripe does: the official client verifies the header, and refuses another secret', () => {
    const body = JSON.stringify({ id: 'evt_1', object: 'event', type: 'payment_intent.succeeded', data: { object: {} } });
    const header = signatureHeader('whsec_test_secret', body, Math.floor(Date.now() / 1000));
    const stripe = new Stripe('sk_test_verifier_only_no_requests_made');
    expect(stripe.webhooks.constructEvent(body, header, 'whsec_test_secret').id).toBe('evt_1');
    expect(() => stripe.webhooks.constructEvent(body, header, 'whsec_other')).toThrow(Stripe.errors.StripeSignatureVerificationError);
  });

  it('refuses private, loopback, link-local, unique-local and CGNAT addresses (loopback allowed in development)', () => {
    for (const a of ['10.0.0.1', '172.16.5.4', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::', 'fd00::1', 'fe80::1', '::ffff:10.0.0.1', '224.0.0.1']) {
      expect({ a, allowed: addressAllowed(a, true) }).toEqual({ a, allowed: false });
    }
    expect(addressAllowed('127.0.0.1', false)).toBe(false);
    expect(addressAllowed('::1', false)).toBe(false);
    expect(addressAllowed('127.0.0.1', true)).toBe(true);
    for (const a of ['93.184.216.34', '2606:4700::1111', '172.32.0.1', '100.128.0.1']) expect({ a, allowed: addressAllowed(a, false) }).toEqual({ a, allowed: true });
  });

  it('checks the address a name resolves to: production never reaches localhost; development does', async () => {
    hits.length = 0;
    const refused = await sendWebhook(`${url}/hook`, '{}', {}, { allowLoopback: false });
    expect(refused).toMatchObject({ ok: false, error: expect.stringMatching(/disallowed address/) });
    expect(hits).toEqual([]);
    expect(await sendWebhook(`${url}/hook`, '{}', {}, { allowLoopback: true })).toMatchObject({ ok: true, httpStatus: 204 });
    expect(hits).toEqual(['/hook']);
  });

  it('does not follow a redirect: a 3xx is a failed delivery', async () => {
    hits.length = 0;
    expect(await sendWebhook(`${url}/redirect`, '{}', {}, { allowLoopback: true })).toMatchObject({ ok: false, httpStatus: 302, error: 'redirects are not followed' });
    expect(hits).toEqual(['/redirect']);
  });
});
