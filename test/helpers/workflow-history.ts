import type { Client } from '@temporalio/client';

/**
 * Updates a workflow accepted and never completed, read from its history: an update handler that
 * still waits (or was abandoned when the workflow closed). "No workflow has a pending update" is
 * an invariant of the payment workflow (DESIGN.md §4a): every update answers.
 */
export async function pendingUpdates(client: Client, workflowId: string): Promise<string[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const accepted = new Set<string>();
  for (const event of history.events ?? []) {
    const acceptedId = event.workflowExecutionUpdateAcceptedEventAttributes?.protocolInstanceId;
    if (acceptedId) accepted.add(acceptedId);
    const completedId = event.workflowExecutionUpdateCompletedEventAttributes?.meta?.updateId;
    if (completedId) accepted.delete(completedId);
  }
  return [...accepted];
}
