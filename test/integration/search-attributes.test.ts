import { TestWorkflowEnvironment } from '@temporalio/testing';
import { PAYMENT_SEARCH_ATTRIBUTES, ensureSearchAttributes } from '../../src/temporal/search-attributes';
import { temporalCliPath } from '../helpers/temporal-binaries';

describe('registering the payment search attributes on an existing cluster', () => {
  it('adds the missing ones once, then nothing', async () => {
    // A dev server started without the project's flags stands in for a fresh self-hosted cluster.
    const env = await TestWorkflowEnvironment.createLocal({
      server: { executable: { type: 'existing-path', path: await temporalCliPath() } },
    });
    try {
      const connection = env.connection;
      expect((await ensureSearchAttributes(connection, 'default')).sort()).toEqual(Object.keys(PAYMENT_SEARCH_ATTRIBUTES).sort());
      expect(await ensureSearchAttributes(connection, 'default')).toEqual([]);
      const listed = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
      expect(Object.keys(listed.customAttributes ?? {})).toEqual(expect.arrayContaining(Object.keys(PAYMENT_SEARCH_ATTRIBUTES)));
    } finally {
      await env.teardown();
    }
  });
});
