import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { Connection } from '@temporalio/client';
import { parseEnv } from '../../src/config/env';
import { temporalTls } from '../../src/temporal/connection';
import { startDevServer, type DevServer } from '../../src/temporal/dev-server';
import { freePort } from '../helpers/ports';
import { temporalCliPath } from '../helpers/temporal-binaries';

/**
 * The compose stack's mTLS, outside Docker: deploy/temporal-tls/make-certs.sh runs with the
 * machine's openssl, and the gateway's own TLS settings (src/temporal/connection.ts, from the same
 * TEMPORAL_TLS_* variables compose sets) reach a real Temporal server through a listener that, like
 * the compose frontend (TEMPORAL_TLS_REQUIRE_CLIENT_AUTH), demands a client certificate from that CA.
 * The Temporal CLI dev server has no TLS flags (`temporal server start-dev --help`), so a Node TLS
 * listener in front of it terminates TLS and passes the gRPC stream on unchanged.
 */
const ROOT = path.resolve(__dirname, '..', '..');
const SCRIPT = path.join(ROOT, 'deploy', 'temporal-tls', 'make-certs.sh');

let certs: string;
let server: DevServer;
let frontend: tls.Server;
let frontendPort: number;
const refusedHandshakes: string[] = [];

beforeAll(async () => {
  certs = fs.mkdtempSync(path.join(os.tmpdir(), 'temporal-tls-'));
  execFileSync('sh', [SCRIPT, certs], { env: { ...process.env, TEMPORAL_TLS_SERVER_NAME: 'temporal', TEMPORAL_TLS_OWNER: `${process.getuid!()}:${process.getgid!()}` } });
  server = await startDevServer({ binary: await temporalCliPath(), port: await freePort(), uiPort: await freePort(), namespace: 'default', output: 'ignore' });
  const [host, port] = server.address.split(':');
  frontendPort = await freePort();
  frontend = tls.createServer(
    {
      cert: fs.readFileSync(path.join(certs, 'server.pem')),
      key: fs.readFileSync(path.join(certs, 'server.key')),
      ca: fs.readFileSync(path.join(certs, 'ca.pem')),
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: ['h2'],
    },
    (socket) => {
      const upstream = net.connect(Number(port), host);
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    },
  );
  frontend.on('tlsClientError', (error) => refusedHandshakes.push(error.message));
  await new Promise<void>((resolve) => frontend.listen(frontendPort, '127.0.0.1', resolve));
}, 90_000);

afterAll(async () => {
  await new Promise((resolve) => frontend?.close(resolve));
  await server?.stop();
  fs.rmSync(certs, { recursive: true, force: true });
});

const tlsEnv = (extra: NodeJS.ProcessEnv) =>
  parseEnv({ TEMPORAL_ADDRESS: `127.0.0.1:${frontendPort}`, TEMPORAL_TLS_CA: path.join(certs, 'ca.pem'), TEMPORAL_TLS_SERVER_NAME: 'temporal', ...extra });

describe('mTLS towards Temporal', () => {
  it('make-certs.sh makes a CA that signs a server certificate for the compose host name and a client certificate, and keeps them on a second run', () => {
    const verify = execFileSync('openssl', ['verify', '-CAfile', path.join(certs, 'ca.pem'), path.join(certs, 'server.pem'), path.join(certs, 'client.pem')], { encoding: 'utf8' });
    expect(verify).toContain('server.pem: OK');
    expect(verify).toContain('client.pem: OK');
    const serverText = execFileSync('openssl', ['x509', '-in', path.join(certs, 'server.pem'), '-noout', '-ext', 'subjectAltName,extendedKeyUsage'], { encoding: 'utf8' });
    expect(serverText).toContain('DNS:temporal');
    expect(serverText).toContain('TLS Web Server Authentication');
    const clientText = execFileSync('openssl', ['x509', '-in', path.join(certs, 'client.pem'), '-noout', '-ext', 'extendedKeyUsage'], { encoding: 'utf8' });
    expect(clientText).toContain('TLS Web Client Authentication');
    // The CA key is not left anywhere, so nothing else can be issued under this CA.
    expect(fs.readdirSync(certs).sort()).toEqual(['ca.pem', 'client.key', 'client.pem', 'server.key', 'server.pem']);
    expect(fs.statSync(path.join(certs, 'server.key')).mode & 0o077).toBe(0);
    const before = fs.readFileSync(path.join(certs, 'ca.pem'), 'utf8');
    execFileSync('sh', [SCRIPT, certs]);
    expect(fs.readFileSync(path.join(certs, 'ca.pem'), 'utf8')).toBe(before);
  });

  it("the gateway's connection with the client certificate reaches Temporal", async () => {
    const env = tlsEnv({ TEMPORAL_TLS_CERT: path.join(certs, 'client.pem'), TEMPORAL_TLS_KEY: path.join(certs, 'client.key') });
    const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS!, tls: temporalTls(env), connectTimeout: 10_000 });
    try {
      const namespace = await connection.workflowService.describeNamespace({ namespace: 'default' });
      expect(namespace.namespaceInfo?.name).toBe('default');
    } finally {
      await connection.close();
    }
  });

  it('a client without a certificate is refused at the handshake', async () => {
    const env = tlsEnv({ TEMPORAL_TLS: 'true' });
    const before = refusedHandshakes.length;
    await expect(
      (async () => {
        const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS!, tls: temporalTls(env), connectTimeout: 3_000 });
        await connection.workflowService.describeNamespace({ namespace: 'default' }).finally(() => connection.close());
      })(),
    ).rejects.toThrow();
    expect(refusedHandshakes.length).toBeGreaterThan(before);
    expect(refusedHandshakes.slice(before).join('\n')).toMatch(/certificate/i);
  });
});
