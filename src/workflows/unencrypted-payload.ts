/**
 * What a worker's codec (src/temporal/payload-codec.ts) hands the workflow in place of a payload
 * that arrived without the gateway's encryption: someone reached Temporal without the payload key
 * (a crafted `temporal workflow signal --input '{...}'`, say), past the API's JWT, scopes, merchant
 * isolation and audit log. Decoding to a marker rather than throwing matters: a decode error fails
 * the workflow task, and a crafted signal in the history would then fail every later task of that
 * payment for good. The marker reaches the handler, which refuses it where it landed.
 * Imports nothing: workflows and the codec share it.
 */
export const UNENCRYPTED_PAYLOAD_CODE = 'unencrypted_payload';

export interface UnencryptedPayloadMarker {
  refused: typeof UNENCRYPTED_PAYLOAD_CODE;
}

export const UNENCRYPTED_PAYLOAD_MARKER: UnencryptedPayloadMarker = { refused: UNENCRYPTED_PAYLOAD_CODE };

export function isUnencryptedPayload(value: unknown): value is UnencryptedPayloadMarker {
  return typeof value === 'object' && value !== null && (value as { refused?: unknown }).refused === UNENCRYPTED_PAYLOAD_CODE && Object.keys(value).length === 1;
}

export const UNENCRYPTED_PAYLOAD_MESSAGE = 'The request was not encrypted with the gateway payload key; it is refused. Send it through the gateway API.';
