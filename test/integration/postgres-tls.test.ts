import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { rdsCaBundlePem } from '../../src/storage/rds-ca-bundle';
import { startPostgres, type PostgresServer } from '../helpers/postgres';
import { ROOT } from '../helpers/processes';

/**
 * In AWS the gateway reaches RDS with `sslmode=verify-full` and trusts the RDS certificate
 * authorities through NODE_EXTRA_CA_CERTS (deploy/aws/template.yaml, src/storage/rds-ca-bundle.ts).
 * This shows that mechanism on a real PostgreSQL speaking TLS, through the gateway's own database
 * code (dist/storage/postgres-db.js) in a fresh Node process, since Node reads NODE_EXTRA_CA_CERTS
 * at start: the server's certificate is checked (a CA the process does not trust, or a name that does
 * not match, is refused), not only encrypted.
 */
const openssl = (args: string[], cwd: string) => execFileSync('openssl', args, { cwd, stdio: 'pipe' });

describe('PostgreSQL over TLS with sslmode=verify-full and NODE_EXTRA_CA_CERTS', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-tls-'));
  let matching: PostgresServer;
  let misnamed: PostgresServer;

  /** A server certificate for `san`, signed by the test CA. */
  const serverCert = (name: string, san: string) => {
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-subj', `/CN=${name}`, '-out', `${name}.csr`], dir);
    fs.writeFileSync(path.join(dir, `${name}.ext`), `subjectAltName=${san}\n`);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`], dir);
    return { certFile: path.join(dir, `${name}.crt`), keyFile: path.join(dir, `${name}.key`) };
  };

  beforeAll(async () => {
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-subj', '/CN=gateway test database CA', '-days', '2', '-out', 'ca.crt'], dir);
    matching = await startPostgres({ database: 'tls', tls: serverCert('db-loopback', 'IP:127.0.0.1') });
    misnamed = await startPostgres({ database: 'tls', tls: serverCert('db-elsewhere', 'DNS:db.elsewhere.example') });
    fs.writeFileSync(path.join(dir, 'rds-ca-bundle.pem'), rdsCaBundlePem());
  }, 120_000);

  afterAll(async () => {
    await Promise.all([matching?.stop(), misnamed?.stop()]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** One query through PostgresDb in a new Node process: 'ssl on' when it connected over TLS, else the error. */
  const connect = (url: string, extraCaFile?: string): string => {
    const script = `
      const { PostgresDb } = require(${JSON.stringify(path.join(ROOT, 'dist/storage/postgres-db.js'))});
      const db = PostgresDb.open(process.argv[1]);
      db.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .then((rows) => { console.log(rows[0] && rows[0].ssl ? 'ssl on' : 'ssl off'); return db.close(); })
        .catch((err) => { console.log('error: ' + err.message); process.exit(0); });`;
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    if (extraCaFile) env.NODE_EXTRA_CA_CERTS = extraCaFile;
    const child = spawnSync(process.execPath, ['-e', script, url], { env, encoding: 'utf8', timeout: 30_000 });
    return `${child.stdout}${child.stderr}`.trim();
  };
  const verifyFull = (server: PostgresServer) => `${server.url}?sslmode=verify-full`;

  it('connects over TLS when the process trusts the CA and the name matches', () => {
    expect(connect(verifyFull(matching), path.join(dir, 'ca.crt'))).toBe('ssl on');
  });

  it('refuses a server whose CA the process does not trust (the system roots alone, or the RDS bundle)', () => {
    expect(connect(verifyFull(matching))).toMatch(/^error: .*(self[- ]signed|unable to (get|verify)|certificate)/i);
    expect(connect(verifyFull(matching), path.join(dir, 'rds-ca-bundle.pem'))).toMatch(/^error: .*(self[- ]signed|unable to (get|verify)|certificate)/i);
  });

  it('refuses a trusted CA\'s certificate for another name', () => {
    expect(connect(verifyFull(misnamed), path.join(dir, 'ca.crt'))).toMatch(/^error: .*(does not match|altnames|Hostname\/IP)/i);
  });

  it('ships RDS certificate authorities that are all valid today, the regional RDS roots among them', () => {
    const certs = rdsCaBundlePem()
      .split(/(?=-----BEGIN CERTIFICATE-----)/)
      .filter((pem) => pem.includes('BEGIN CERTIFICATE'))
      .map((pem) => new X509Certificate(pem));
    expect(certs.length).toBeGreaterThan(20);
    for (const cert of certs) {
      // The RDS roots per region, and the Amazon Trust Services roots (with Starfield's) RDS Proxy presents.
      expect(cert.subject).toMatch(/Amazon|Starfield/);
      expect(new Date(cert.validTo).getTime()).toBeGreaterThan(Date.now());
      expect(cert.ca).toBe(true);
    }
    expect(certs.some((c) => /CN=Amazon RDS us-east-1 Root CA RSA2048 G1/.test(c.subject))).toBe(true);
  });
});
