import { DefaultFailureConverter } from '@temporalio/common';

/**
 * Failure messages and stack traces go into an encoded attribute, so the payload codec encrypts
 * them like any payload (by default Temporal stores them in plain text). Loaded by path, because
 * workflows use it inside their sandbox.
 */
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
