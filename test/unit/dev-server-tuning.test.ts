import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { DEV_SERVER_DYNAMIC_CONFIG, devServerDynamicConfigArgs } from '../../src/temporal/dev-server-tuning';

describe('dev server tuning', () => {
  it('raises the history queues read rate above the 20/s per shard that cost ~40 ms per task', () => {
    expect(DEV_SERVER_DYNAMIC_CONFIG['history.transferProcessorMaxPollRPS']).toBeGreaterThanOrEqual(500);
    expect(DEV_SERVER_DYNAMIC_CONFIG['history.visibilityProcessorMaxPollRPS']).toBeGreaterThanOrEqual(500);
  });

  it('passes each setting as one --dynamic-config-value flag, and none for {}', () => {
    expect(devServerDynamicConfigArgs({ 'a.b': 1, 'c.d': 2 })).toEqual(['--dynamic-config-value', 'a.b=1', '--dynamic-config-value', 'c.d=2']);
    expect(devServerDynamicConfigArgs({})).toEqual([]);
  });
});

describe("compose's Temporal server", () => {
  const root = path.resolve(__dirname, '..', '..');
  const compose = parse(fs.readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, { environment?: Record<string, string>; volumes?: string[] }>;
  };

  it('runs with the same dynamic configuration as the dev server, mounted where DYNAMIC_CONFIG_FILE_PATH points', () => {
    const temporal = compose.services.temporal!;
    const target = temporal.environment!.DYNAMIC_CONFIG_FILE_PATH!;
    const mount = temporal.volumes!.find((v) => v.split(':')[1] === target);
    expect(mount).toBeDefined();
    const file = path.join(root, mount!.split(':')[0]!);
    const config = parse(fs.readFileSync(file, 'utf8')) as Record<string, { value: unknown }[]>;
    for (const [key, value] of Object.entries(DEV_SERVER_DYNAMIC_CONFIG)) expect({ key, value: config[key]?.[0]?.value }).toEqual({ key, value });
  });
});
