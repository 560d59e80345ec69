import { DefaultLogger, Runtime } from '@temporalio/worker';

// In-process workers in tests log through the SDK; keep only errors so test output stays readable.
Runtime.install({
  logger: new DefaultLogger('ERROR'),
  telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } },
});
