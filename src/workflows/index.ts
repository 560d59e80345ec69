/**
 * Every workflow the payments worker runs. The worker bundles this file, so it (and everything it
 * imports) must stay deterministic: no Node modules, no I/O, no clocks but the workflow's.
 */
export { readinessWorkflow } from './readiness';
export { paymentWorkflow } from './payment/payment-workflow';
export { fraudReportWorkflow } from './fraud-report';
export { recordsRetentionWorkflow } from './records-retention';
export { reconciliationWorkflow } from './reconciliation';
export { paymentMethodWorkflow } from './payment-method';
export { webhookDeliveryWorkflow } from './webhook-delivery';
