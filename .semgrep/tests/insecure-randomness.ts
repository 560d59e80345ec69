// Test cases for ../rules/insecure-randomness.yml (semgrep --test). Bad on purpose; not scanned as code.
// ruleid: gateway.math-random-for-secret
const sessionToken = Math.random().toString(36).slice(2);
// ruleid: gateway.math-random-for-secret
const refund = { id: Math.floor(Math.random() * 1e9) };
function newApiKey() {
  // ruleid: gateway.math-random-for-secret
  return `sk_${Math.random()}`;
}
// ok: gateway.math-random-for-secret
const jitterMs = Math.random() * 100;
export { sessionToken, refund, newApiKey, jitterMs };
