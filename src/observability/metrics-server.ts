import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { MetricsExporterConfig } from '@temporalio/worker';
import type { Metrics } from './metrics';

export interface MetricsServerOptions {
  /** Interface to listen on. Default: all interfaces, so that a Prometheus in another container can scrape. */
  host?: string;
  /**
   * The Temporal SDK's own Prometheus exporter (see `sdkPrometheusExporter`), e.g.
   * `http://127.0.0.1:9465/metrics`: read on every scrape and served after this process's own
   * series, so one scrape target per worker has both.
   */
  sdkMetricsUrl?: string;
  /** How long a scrape waits for the SDK's exporter. Default 2000 ms. */
  sdkTimeoutMs?: number;
}

export interface MetricsServer {
  /** The port listened on (the real one when started with port 0). */
  port: number;
  close(): Promise<void>;
}

/**
 * The Temporal SDK's Prometheus exporter for `Runtime.install({ telemetryOptions: { metrics } })`:
 * on the loopback interface only (the worker's metrics server re-serves it), with Prometheus
 * naming (`_total` counters, durations in seconds with a `_seconds` suffix). Its series are
 * prefixed `temporal_` and labelled by namespace, task queue, workflow and activity type: no ids.
 */
export function sdkPrometheusExporter(port: number): MetricsExporterConfig {
  return {
    prometheus: {
      bindAddress: `127.0.0.1:${port}`,
      countersTotalSuffix: true,
      unitSuffix: true,
      useSecondsForDurations: true,
    },
  };
}

/**
 * GET /metrics for a worker process, which has no HTTP server of its own: this process's
 * registry, then (with `sdkMetricsUrl`) the Temporal SDK's worker metrics. If the SDK's exporter
 * does not answer, the scrape still succeeds with this process's series and
 * `temporal_sdk_metrics_up 0`.
 */
export async function startMetricsServer(metrics: Metrics, port: number, options: MetricsServerOptions = {}): Promise<MetricsServer> {
  const { sdkMetricsUrl, sdkTimeoutMs = 2_000 } = options;
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Not found: metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('Method not allowed\n');
      return;
    }
    scrape(metrics, sdkMetricsUrl, sdkTimeoutMs).then(
      (text) => {
        res.writeHead(200, { 'Content-Type': metrics.contentType, 'Cache-Control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      () => {
        res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Metrics could not be collected\n');
      },
    );
  });
  server.listen(port, options.host);
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeIdleConnections();
      }),
  };
}

async function scrape(metrics: Metrics, sdkMetricsUrl: string | undefined, timeoutMs: number): Promise<string> {
  const own = await metrics.metricsText();
  if (!sdkMetricsUrl) return own;
  const sdk = await fetchText(sdkMetricsUrl, timeoutMs);
  const up = ['# HELP temporal_sdk_metrics_up Whether this scrape could read the Temporal SDK worker metrics.', '# TYPE temporal_sdk_metrics_up gauge', `temporal_sdk_metrics_up ${sdk === undefined ? 0 : 1}`, ''].join('\n');
  return `${withNewline(own)}${up}${sdk === undefined ? '' : withNewline(sdk)}`;
}

async function fetchText(url: string, timeoutMs: number): Promise<string | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return response.ok ? await response.text() : undefined;
  } catch {
    return undefined;
  }
}

function withNewline(text: string): string {
  return text === '' || text.endsWith('\n') ? text : `${text}\n`;
}
