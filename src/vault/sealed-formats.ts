/**
 * How the API seals card data to the vault (HPKE, ./crypto/hpke.ts), shared by both sides: the
 * marker in a row's `key_id` that says "HPKE-sealed, not envelope-encrypted", and the `info`
 * and `aad` each ciphertext is bound to. Rows written before sealing moved to HPKE keep their
 * envelope columns and still open (the vault reads both while such rows can exist).
 */

/** The vault_public_keys row of the intake key, and the vault_secrets row of its wrapped private seed. */
export const INTAKE_KEY_NAME = 'vault-intake';

/** `card_intakes.key_id` of an HPKE-sealed intake: `wrapped_key` holds the encapsulated key, `ciphertext` the rest. */
export const HPKE_INTAKE_KEY_ID = 'hpke:vault-intake';
/** `cvv_records.key_id` of a CVV sealed to epochs: its ciphertexts are in `cvv_seals`, one per epoch. */
export const HPKE_CVV_KEY_ID = 'hpke:cvv-epochs';
/** Rows under an `hpke:` key id hold no wrapped data key: master key rotation leaves them alone. */
export const HPKE_KEY_ID_PREFIX = 'hpke:';

export const INTAKE_INFO = 'card-gateway/v1 card-intake';
export const cvvInfo = (epochId: string) => `card-gateway/v1 card-cvv ${epochId}`;
export const intakeAad = (intakeRef: string) => `card_intakes|${intakeRef}`;
export const cvvAad = (cvvRef: string) => `cvv_records|${cvvRef}`;
