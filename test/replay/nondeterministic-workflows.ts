/**
 * A deliberately non-deterministic variant of the workflows, for the replay test that proves a
 * non-deterministic change is caught: `paymentWorkflow` sleeps before running the real one, so
 * its first command is a timer where every recorded history has the tokenize activity. Bundled
 * like src/workflows: deterministic code only.
 */
import { sleep } from '@temporalio/workflow';
import { paymentWorkflow as recordedPaymentWorkflow } from '../../src/workflows';

export * from '../../src/workflows';

export async function paymentWorkflow(...args: Parameters<typeof recordedPaymentWorkflow>): ReturnType<typeof recordedPaymentWorkflow> {
  await sleep('1ms');
  return recordedPaymentWorkflow(...args);
}
