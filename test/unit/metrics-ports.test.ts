import { MAX_PROCESSES } from '../../src/config/env';
import { apiMetricsPort, workerPorts, workerProcessName } from '../../src/cli/metrics-ports';
import { ALL_QUEUES } from '../../src/temporal/task-queues';

describe("npm start's metrics ports", () => {
  const base = 9464;

  it('keeps the ports of one process of each kind as they were: worker pairs from the base, the API after them', () => {
    expect(ALL_QUEUES.map((q) => workerPorts(base, q, 1).metrics)).toEqual([9464, 9466, 9468, 9470, 9472]);
    expect(workerPorts(base, 'vault', 1).sdk).toBe(9467);
    expect(apiMetricsPort(base)).toBe(9474);
  });

  it('gives every process of the largest scale distinct ports', () => {
    const ports = [
      ...Array.from({ length: MAX_PROCESSES }, (_, n) => apiMetricsPort(base, n + 1)),
      ...ALL_QUEUES.flatMap((q) => Array.from({ length: MAX_PROCESSES }, (_, r) => workerPorts(base, q, r + 1)).flatMap((p) => [p.metrics, p.sdk])),
    ];
    expect(new Set(ports).size).toBe(ports.length);
    // The highest stays a valid port from the highest base the configuration allows (65000).
    expect(Math.max(...ports) - base + 65_000).toBeLessThanOrEqual(65_535);
  });

  it("numbers the API's processes consecutively, so its cluster can count from METRICS_PORT", () => {
    expect([1, 2, 3].map((n) => apiMetricsPort(base, n))).toEqual([9474, 9475, 9476]);
  });

  it('names a lone worker by its queue and several by number', () => {
    expect(workerProcessName('vault', 1, 1)).toBe('worker:vault');
    expect([1, 2].map((r) => workerProcessName('vault', r, 2))).toEqual(['worker:vault#1', 'worker:vault#2']);
  });
});
