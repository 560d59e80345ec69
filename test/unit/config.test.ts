import path from 'node:path';
import { ConfigError, parseEnv } from '../../src/config/env';

describe('configuration from the environment', () => {
  it('has embedded defaults for everything', () => {
    const env = parseEnv({});
    expect(env.TEMPORAL_ADDRESS).toBeUndefined();
    expect(env).toMatchObject({
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_TLS: false,
      PORT: 3000,
      TEMPORAL_DEV_PORT: 7233,
      TEMPORAL_UI_PORT: 8233,
      DATA_DIR: path.resolve('data'),
      LOG_LEVEL: 'info',
    });
  });

  it('reads a cluster address, TLS files and numbers', () => {
    const env = parseEnv({
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      TEMPORAL_NAMESPACE: 'payments-prod',
      TEMPORAL_TLS_CERT: 'certs/client.pem',
      TEMPORAL_TLS_KEY: 'certs/client.key',
      PORT: '8080',
      LOG_LEVEL: 'warn',
    });
    expect(env.TEMPORAL_ADDRESS).toBe('temporal.internal:7233');
    expect(env.TEMPORAL_TLS_CERT).toBe(path.resolve('certs/client.pem'));
    expect(env.PORT).toBe(8080);
  });

  it('runs one process of each kind unless told to scale out, up to 16', () => {
    expect(parseEnv({})).toMatchObject({ WORKERS_PER_QUEUE: 1, API_PROCESSES: 1 });
    expect(parseEnv({ WORKERS_PER_QUEUE: '2', API_PROCESSES: '16' })).toMatchObject({ WORKERS_PER_QUEUE: 2, API_PROCESSES: 16 });
    expect(() => parseEnv({ API_PROCESSES: 'two' })).toThrow('Invalid configuration: API_PROCESSES must be a whole number of processes, 1 to 16 (got "two")');
  });

  it('treats an empty variable as unset', () => {
    expect(parseEnv({ TEMPORAL_ADDRESS: '', PORT: '' }).PORT).toBe(3000);
  });

  it.each([
    ['PORT', { PORT: 'eighty' }],
    ['PORT', { PORT: '70000' }],
    ['TEMPORAL_ADDRESS', { TEMPORAL_ADDRESS: 'http://localhost' }],
    ['LOG_LEVEL', { LOG_LEVEL: 'loud' }],
    ['TEMPORAL_TLS', { TEMPORAL_TLS: 'yes please' }],
    ['TEMPORAL_TLS_KEY', { TEMPORAL_TLS_CERT: 'client.pem' }],
    ['WORKERS_PER_QUEUE', { WORKERS_PER_QUEUE: '0' }],
    ['WORKERS_PER_QUEUE', { WORKERS_PER_QUEUE: '17' }],
    ['WORKERS_PER_QUEUE', { WORKERS_PER_QUEUE: '1.5' }],
    ['API_PROCESSES', { API_PROCESSES: 'two' }],
    ['API_PROCESSES', { API_PROCESSES: '-1' }],
  ])('names the bad variable %s', (variable, source) => {
    expect(() => parseEnv(source)).toThrow(ConfigError);
    expect(() => parseEnv(source)).toThrow(new RegExp(`^Invalid configuration: ${variable} `));
  });
});
