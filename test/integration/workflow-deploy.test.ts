import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { NativeConnection, Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { Metrics, metricsSinks } from '../../src/observability/metrics';
import { PaymentRecords } from '../../src/records/payment-records';
import { SqliteDb } from '../../src/storage/sqlite-db';
import { gatewayDataConverter } from '../../src/temporal/data-converter';
import { TASK_QUEUES } from '../../src/temporal/task-queues';
import { PATCHES } from '../../src/workflows/payment/patches';
import { startGatewayStack, type GatewayStack } from '../helpers/gateway-stack';
import { ROOT } from '../helpers/processes';
import { TEST_CARDS } from '../helpers/test-cards';

/**
 * A deploy of a new workflow build while payments run (docs/replay.md, "Changing the workflow"):
 * payments start on the build before payment records (the commit below, taken from git as it
 * was), that build's payments worker stops, today's starts, and the old payments finish with
 * their original behaviour (no record, no patch marker) while new ones take the new path.
 */
const BUILD_BEFORE_RECORDS = 'e489916243f2fde5aa5f4d0fb540986ae5acae3f';

describe('deploying a new workflow build while payments run', () => {
  let gateway: GatewayStack;
  let db: SqliteDb;
  let records: PaymentRecords;
  let oldBuild: string;
  const M = 'm_deploy';

  beforeAll(async () => {
    // The old build's source, as it was committed, where the project's node_modules resolve.
    oldBuild = path.join(ROOT, 'test-output', 'builds', BUILD_BEFORE_RECORDS.slice(0, 12));
    fs.rmSync(oldBuild, { recursive: true, force: true });
    fs.mkdirSync(oldBuild, { recursive: true });
    const archive = execFileSync('git', ['archive', BUILD_BEFORE_RECORDS, 'src'], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
    execFileSync('tar', ['-x', '-C', oldBuild], { input: archive });
    gateway = await startGatewayStack();
    db = SqliteDb.open(path.join(gateway.stack.dataDir, 'vault.db'));
    records = new PaymentRecords(db, 86_400_000);
  }, 180_000);
  afterAll(async () => {
    await db?.close();
    await gateway?.stop();
  });

  const create = async (key: string) => {
    const res = await gateway.request('POST', '/v1/payments', {
      merchant: M,
      headers: { 'Idempotency-Key': key },
      body: { amount: 2500, currency: 'EUR', capture_method: 'manual', card: { number: TEST_CARDS.visa, exp_month: 12, exp_year: 2031, cvc: '731' } },
    });
    // A deploy is what this test is about, not the API's authorization wait: on a loaded machine
    // the first task on a freshly started worker can outlast it (202, still processing). The
    // payment must then reach requires_capture all the same; its history says where time went.
    expect([201, 202]).toContain(res.status);
    const id = res.body.id as string;
    if (res.status === 202) {
      const until = Date.now() + 60_000;
      let status = res.body.status as string;
      while (status === 'processing' && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 250));
        status = (await gateway.request('GET', `/v1/payments/${id}`, { merchant: M })).body.status;
      }
      const history = await gateway.stack.client.workflow.getHandle(id).fetchHistory();
      const timeline = (history.events ?? []).map((e) => `${temporal.api.enums.v1.EventType[e.eventType ?? 0]}@${e.eventTime?.seconds}`);
      expect({ status, timeline }).toMatchObject({ status: 'requires_capture' });
      console.warn(`workflow-deploy: ${key} answered 202 before requires_capture; history ${timeline.join(' ')}`);
    } else {
      expect(res.body.status).toBe('requires_capture');
    }
    return id;
  };
  const markers = async (id: string) => {
    const history = await gateway.stack.client.workflow.getHandle(id).fetchHistory();
    return (history.events ?? []).filter((e) => e.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_MARKER_RECORDED).map((e) => e.markerRecordedEventAttributes?.markerName);
  };

  it('payments started on the old build finish as they started; new ones keep records', async () => {
    // Deploy 1: the build before records runs the payments queue.
    await gateway.stack.workers.get('payments')!.stop('SIGTERM');
    const connection = await NativeConnection.connect({ address: gateway.stack.server.address });
    const oldWorker = await Worker.create({
      connection,
      taskQueue: TASK_QUEUES.payments,
      workflowsPath: path.join(oldBuild, 'src', 'workflows', 'index.ts'),
      dataConverter: gatewayDataConverter(gateway.stack.keys),
      sinks: metricsSinks(new Metrics({ defaultMetrics: false })),
      maxCachedWorkflows: 0,
    });
    const oldRunning = oldWorker.run();
    const oldCaptured = await create('deploy-old-1');
    const oldCanceled = await create('deploy-old-2');
    oldWorker.shutdown();
    await oldRunning;
    await connection.close();

    // Deploy 2: today's build (the real worker process from dist/).
    await gateway.stack.startWorker('payments');
    const newCaptured = await create('deploy-new-1');
    const newCanceled = await create('deploy-new-2');

    for (const id of [oldCaptured, newCaptured]) expect((await gateway.request('POST', `/v1/payments/${id}/capture`, { merchant: M, body: {} })).body.status).toBe('captured');
    for (const id of [oldCanceled, newCanceled]) expect((await gateway.request('POST', `/v1/payments/${id}/cancel`, { merchant: M, body: {} })).body.status).toBe('canceled');
    for (const id of [oldCanceled, newCanceled]) await gateway.stack.client.workflow.getHandle(id).result();

    // The old payments: no record keeper, no patch marker; still read (from their workflow).
    for (const id of [oldCaptured, oldCanceled]) {
      expect(await markers(id)).not.toContain('core_patch');
      expect(await records.get(id)).toBeUndefined();
    }
    expect((await gateway.request('GET', `/v1/payments/${oldCaptured}`, { merchant: M })).body).toMatchObject({ status: 'captured', amount_captured: 2500 });
    expect((await gateway.request('GET', `/v1/payments/${oldCanceled}`, { merchant: M })).body).toMatchObject({ status: 'canceled' });

    // The new ones: the patch's marker, and a record (final once the workflow has closed).
    for (const id of [newCaptured, newCanceled]) expect(await markers(id)).toContain('core_patch');
    const until = Date.now() + 20_000;
    while ((await records.get(newCaptured))?.state.status !== 'captured' && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
    expect(await records.get(newCaptured)).toMatchObject({ final: false, state: { status: 'captured' } });
    expect(await records.get(newCanceled)).toMatchObject({ final: true, state: { status: 'canceled' } });

    // The sandbox's books: the old payments moved their money exactly as the new ones did.
    const ledger = await gateway.sandbox.ledger();
    const moves = (id: string) => ledger.filter((e) => e.idempotency_key.startsWith(`${id}:`)).map((e) => `${e.kind}:${e.status}`);
    expect(moves(oldCaptured)).toEqual(moves(newCaptured));
    expect(moves(oldCanceled)).toEqual(moves(newCanceled));
    expect(moves(oldCanceled)).toEqual(['authorization:approved', 'void:succeeded']);
    expect(PATCHES.paymentRecords).toBe('payment-records-v1');
  });
});
