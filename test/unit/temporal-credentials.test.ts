import { parseEnv } from '../../src/config/env';
import { temporalCredentials } from '../../src/temporal/connection';

/** How each process authenticates to Temporal, from the environment (README, "Temporal Cloud"). */
describe('temporalCredentials', () => {
  const cloud = { TEMPORAL_ADDRESS: 'payments.acct.tmprl.cloud:7233', TEMPORAL_NAMESPACE: 'payments.acct' };

  it('the embedded dev server: no TLS, no key', () => {
    expect(temporalCredentials(parseEnv({}))).toEqual({ tls: undefined });
  });

  it('an API key is sent, and never without TLS', () => {
    expect(temporalCredentials(parseEnv({ ...cloud, TEMPORAL_API_KEY: 'test-api-key' }))).toEqual({
      tls: { serverNameOverride: undefined, serverRootCACertificate: undefined, clientCertPair: undefined },
      apiKey: 'test-api-key',
    });
  });

  it('an empty API key is a configuration error, not an anonymous connection', () => {
    expect(() => parseEnv({ ...cloud, TEMPORAL_API_KEY: ' ' })).toThrow(/TEMPORAL_API_KEY/);
  });
});
