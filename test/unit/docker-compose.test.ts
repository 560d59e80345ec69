import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { authConfigSchema } from '../../src/api/auth/auth-config';
import { envSchema } from '../../src/config/env';
import { ALL_QUEUES } from '../../src/temporal/task-queues';
import { uiProxyEnvSchema } from '../../src/ui-proxy/config';

/**
 * No Docker engine runs where the tests run, so the compose file is checked as data: every
 * gateway service runs a real entry point of this project with real configuration names.
 */
const ROOT = path.resolve(__dirname, '..', '..');
interface Service {
  build?: string;
  volumes?: string[];
  image?: string;
  command?: string[];
  entrypoint?: string[];
  restart?: string;
  environment?: Record<string, string>;
  ports?: string[];
  depends_on?: Record<string, unknown> | string[];
  deploy?: { replicas?: number | string };
}
const compose = parse(fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
};
const services = compose.services;
const gatewayServices = Object.entries(services).filter(([, s]) => s.build !== undefined);
/** What compose makes of `${NAME:-default}` when NAME is unset: the default (other values unchanged). */
const composeDefault = (value: string) => value.replace(/^\$\{\w+:-([^}]*)\}$/, '$1');
const withDefaults = (environment: Record<string, string>) => Object.fromEntries(Object.entries(environment).map(([k, v]) => [k, composeDefault(String(v))]));
const packageJson = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

describe('docker-compose.yml', () => {
  it('has Temporal on PostgreSQL, its Web UI, one service per task queue, the API and the setup job', () => {
    expect(Object.keys(services).sort()).toEqual(
      ['postgresql', 'temporal', 'temporal-certs', 'temporal-ui', 'ui-proxy', 'temporal-setup', 'acquirer-sandbox', 'api', 'prometheus', 'grafana', ...ALL_QUEUES.map((q) => `worker-${q}`)].sort(),
    );
    expect(services.temporal!.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgresql' });
    expect(services['temporal-ui']!.environment!.TEMPORAL_ADDRESS).toBe('temporal:7233');
  });

  it.each(gatewayServices)('%s runs an entry point that the build produces', (_name, service) => {
    expect(service.build).toBe('.');
    const [node, script, ...rest] = service.command ?? [];
    expect(node).toBe('node');
    expect(rest).toEqual([]);
    expect(script).toMatch(/^dist\/.+\.js$/);
    const source = path.join(ROOT, script!.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts'));
    expect(fs.existsSync(source)).toBe(true);
  });

  it('each worker service runs the same entry point as its npm script', () => {
    for (const queue of ALL_QUEUES) {
      const script = services[`worker-${queue}`]!.command![1]!;
      expect(packageJson.scripts[`worker:${queue}`]).toContain(`node ${script}`);
    }
    expect(packageJson.scripts.api).toContain(`node ${services.api!.command![1]}`);
  });

  it.each(gatewayServices)('%s sets only configuration variables the code reads, with valid values', (_name, service) => {
    // The UI proxy reads only its own variables (src/ui-proxy/config.ts): it never talks to Temporal.
    const schema = _name === 'ui-proxy' ? uiProxyEnvSchema : envSchema;
    const known = _name === 'ui-proxy' ? Object.keys(uiProxyEnvSchema.shape) : [...Object.keys(envSchema.shape), ...Object.keys(authConfigSchema.shape)];
    const environment = service.environment ?? {};
    expect(Object.keys(environment).filter((k) => !known.includes(k))).toEqual([]);
    if (_name !== 'acquirer-sandbox' && _name !== 'ui-proxy') expect(environment.TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(schema.safeParse(withDefaults(environment)).success).toBe(true);
  });

  it('publishes the Web UI only through the UI proxy, which reaches the API and the UI by their service names', () => {
    const proxy = services['ui-proxy']!;
    expect(services['temporal-ui']!.ports).toBeUndefined();
    expect(proxy.ports).toEqual([`8233:${proxy.environment!.UI_PROXY_PORT}`]);
    expect(proxy.environment!.UI_PROXY_API_URL).toBe(`http://api:${services.api!.environment!.PORT}`);
    expect(proxy.environment!.UI_PROXY_TEMPORAL_UI_URL).toBe('http://temporal-ui:8080');
    // Same-origin codec calls: the UI is told a path on its own origin, which the proxy serves.
    expect(services['temporal-ui']!.environment!.TEMPORAL_CODEC_ENDPOINT).toBe('/codec');
    // No key: /codec is decoded by the API.
    expect(proxy.volumes ?? []).not.toContain('keys:/keys');
  });

  it('the services that share card data share one database; only the vault worker has the master key; the API has a JWT secret', () => {
    for (const name of ['api', 'worker-vault', 'worker-fraud']) {
      expect(services[name]!.environment!.DATABASE_URL).toMatch(/^postgres:\/\/.+@postgresql:5432\/gateway$/);
    }
    expect(services.postgresql!.environment!.POSTGRES_DB).toBe('gateway');
    for (const name of ['api', ...ALL_QUEUES.map((q) => `worker-${q}`)]) {
      // Every process: the Temporal payload key, on its own volume.
      expect(services[name]!.environment!.PAYLOAD_KEY_FILE).toBe('/keys/payload/payload-key.json');
      expect(services[name]!.volumes).toContain('payload-keys:/keys/payload');
      // Only the vault worker: the master key that wraps card data, on a volume nobody else mounts.
      const isVault = name === 'worker-vault';
      expect([name, services[name]!.environment!.MASTER_KEY_FILE]).toEqual([name, isVault ? '/keys/vault/master-key.json' : undefined]);
      expect([name, (services[name]!.volumes ?? []).some((v) => v.startsWith('vault-keys:'))]).toEqual([name, isVault]);
    }
    for (const [name, service] of Object.entries(services)) {
      if (name !== 'worker-vault') expect([name, (service.volumes ?? []).some((v) => v.startsWith('vault-keys:'))]).toEqual([name, false]);
    }
    expect(services['acquirer-sandbox']!.volumes ?? []).not.toContain('payload-keys:/keys/payload');
    expect(services.api!.environment!.JWT_SECRET).toMatch(/^\$\{JWT_SECRET:\?/);
  });

  it('publishes the API on the port it listens on, and every dependency exists', () => {
    expect(services.api!.ports).toEqual([`${services.api!.environment!.PORT}:${services.api!.environment!.PORT}`]);
    for (const [name, service] of Object.entries(services)) {
      const deps = Array.isArray(service.depends_on) ? service.depends_on : Object.keys(service.depends_on ?? {});
      for (const dep of deps) expect([name, dep, dep in services]).toEqual([name, dep, true]);
    }
  });

  it('scales out where that is sound: every worker service has WORKERS_PER_QUEUE replicas, the API API_PROCESSES processes, the sandbox one', () => {
    for (const queue of ALL_QUEUES) {
      expect([queue, services[`worker-${queue}`]!.deploy?.replicas]).toEqual([queue, '${WORKERS_PER_QUEUE:-2}']);
    }
    // The API publishes host port 3000, which only one container can: it scales inside its container (node:cluster).
    expect(services.api!.deploy?.replicas).toBeUndefined();
    expect(services.api!.environment!.API_PROCESSES).toBe('${API_PROCESSES:-2}');
    // The acquirer's side, with one ledger file: never more than one.
    expect(services['acquirer-sandbox']!.deploy?.replicas).toBeUndefined();
    for (const [name, value] of [['WORKERS_PER_QUEUE', services['worker-vault']!.deploy!.replicas], ['API_PROCESSES', services.api!.environment!.API_PROCESSES]] as const) {
      expect([name, envSchema.shape[name].safeParse(composeDefault(String(value))).success]).toEqual([name, true]);
    }
  });

  it('Prometheus finds every replica and every API process where they serve /metrics; Grafana is provisioned from the repository', () => {
    const prometheus = parse(fs.readFileSync(path.join(ROOT, 'deploy/monitoring/prometheus/prometheus.yml'), 'utf8'), { merge: true }) as {
      rule_files: string[];
      scrape_configs: { job_name: string; static_configs?: unknown; dns_sd_configs: { names: string[]; type: string; port: number }[] }[];
    };
    const job = (name: string) => prometheus.scrape_configs.find((c) => c.job_name === name)!;
    // Replicas share one service name: Docker's DNS answers it with every replica's address (type A), so no fixed target.
    for (const config of prometheus.scrape_configs) expect([config.job_name, config.static_configs, config.dns_sd_configs.every((d) => d.type === 'A')]).toEqual([config.job_name, undefined, true]);
    const targets = (name: string) => job(name).dns_sd_configs.flatMap((d) => d.names.map((n) => `${n}:${d.port}`)).sort();
    // The API's metrics listeners, not its public port (which serves no /metrics): one per process, from METRICS_PORT up.
    const apiEnv = services.api!.environment!;
    expect(apiEnv.METRICS_PORT).toBeDefined();
    expect(apiEnv.METRICS_PORT).not.toBe(apiEnv.PORT);
    const apiProcesses = Number(composeDefault(apiEnv.API_PROCESSES!));
    expect(targets('gateway-api')).toEqual(Array.from({ length: apiProcesses }, (_, n) => `api:${Number(apiEnv.METRICS_PORT) + n}`).sort());
    expect(targets('gateway-workers')).toEqual(ALL_QUEUES.map((q) => `worker-${q}:${services[`worker-${q}`]!.environment!.METRICS_PORT}`).sort());
    expect(prometheus.rule_files).toEqual(['/etc/prometheus/alerts.yml']);
    const mounted = (name: string) =>
      (services[name]!.volumes ?? []).map((v) => v.split(':')[0]!).filter((v) => v.startsWith('./')).map((v) => path.join(ROOT, v));
    for (const dir of [...mounted('prometheus'), ...mounted('grafana')]) expect({ dir, exists: fs.existsSync(dir) }).toEqual({ dir, exists: true });
    expect(fs.existsSync(path.join(ROOT, 'deploy/monitoring/prometheus/alerts.yml'))).toBe(true);
    expect(fs.readdirSync(path.join(ROOT, 'deploy/monitoring/grafana/dashboards'))).toContain('card-gateway.json');
  });

  it('publishes no Temporal port on the host: neither the frontend (7233, 7243) nor the bare Web UI (8080)', () => {
    const published = Object.entries(services).flatMap(([name, s]) => (s.ports ?? []).map((p) => ({ name, port: String(p) })));
    // "host:container" or "container": the container side is what the service listens on.
    const containerPort = (port: string) => Number(port.split(':').pop()!.split('/')[0]);
    for (const { name, port } of published) {
      expect({ name, port, temporal: [7233, 7243].includes(containerPort(port)) }).toEqual({ name, port, temporal: false });
    }
    expect(services.temporal!.ports ?? []).toEqual([]);
    expect(services['temporal-ui']!.ports ?? []).toEqual([]);
  });

  it('a one-shot job makes the certificates, and Temporal requires a client certificate from that CA', () => {
    const certs = services['temporal-certs']!;
    expect(certs.restart).toBe('no');
    expect(certs.volumes).toContain('temporal-certs:/certs');
    const script = certs.entrypoint!.find((a) => a.endsWith('make-certs.sh'))!;
    const mount = certs.volumes!.find((v) => v.endsWith(`:${path.dirname(script)}:ro`))!;
    expect(fs.existsSync(path.join(ROOT, mount.split(':')[0]!, path.basename(script)))).toBe(true);
    expect(services.temporal!.depends_on).toMatchObject({ 'temporal-certs': { condition: 'service_completed_successfully' } });
    expect(services.temporal!.environment).toMatchObject({
      TEMPORAL_TLS_REQUIRE_CLIENT_AUTH: 'true',
      TEMPORAL_TLS_FRONTEND_CERT: '/certs/server.pem',
      TEMPORAL_TLS_FRONTEND_KEY: '/certs/server.key',
      TEMPORAL_TLS_CLIENT1_CA_CERT: '/certs/ca.pem',
    });
    expect(services.temporal!.volumes).toContain('temporal-certs:/certs:ro');
  });

  const reachesTemporal = Object.entries(services).filter(([, s]) => s.environment?.TEMPORAL_ADDRESS !== undefined);
  it('every service that reaches Temporal does it over mTLS with the certificate volume', () => {
    expect(reachesTemporal.map(([name]) => name).sort()).toEqual(
      ['temporal-ui', 'temporal-setup', 'api', ...ALL_QUEUES.map((q) => `worker-${q}`)].sort(),
    );
    for (const [name, service] of reachesTemporal) {
      expect([name, service.environment]).toEqual([
        name,
        expect.objectContaining({
          TEMPORAL_TLS_CA: '/certs/ca.pem',
          TEMPORAL_TLS_CERT: '/certs/client.pem',
          TEMPORAL_TLS_KEY: '/certs/client.key',
          TEMPORAL_TLS_SERVER_NAME: 'temporal',
        }),
      ]);
      expect([name, service.volumes]).toEqual([name, expect.arrayContaining(['temporal-certs:/certs:ro'])]);
      // The gateway's own validation accepts the pair (both or neither, src/config/env.ts).
      if (service.build !== undefined) expect(envSchema.safeParse(withDefaults(service.environment!)).success).toBe(true);
    }
  });

  it('the Dockerfile builds dist/ and runs as an unprivileged user', () => {
    const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^FROM node:20/m);
    expect(dockerfile).toMatch(/RUN npm ci/);
    expect(dockerfile).toMatch(/npm run build/);
    expect(dockerfile).toMatch(/^USER node$/m);
  });
});
