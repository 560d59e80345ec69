"""Schemathesis hooks for test/integration/schemathesis.test.ts (loaded through SCHEMATHESIS_HOOKS).

Two things a valid request needs that JSON Schema cannot say, so that schemathesis's
positive_data_acceptance check (schema-valid data must not be refused) tests what it means to:

- A card number that passes the Luhn check and an expiry in the future: otherwise a body valid by
  the OpenAPI document is a declined card (400 card_error). Positive cases of POST /v1/payments
  carry the sandbox's approved test card (README, "Test cards"); the rest of the body stays
  generated.
- A list's `cursor` is an opaque token bound to the merchant and the filters of the listing that
  issued it (src/api/payments/payment-service.ts, src/api/balance, src/api/fraud): no schema can
  say which strings are one, so positive cases do not invent one. Paging with real cursors is
  tested in the API tests.

Negative cases are left alone: they must be refused, and are.
"""
import schemathesis

# The sandbox's approved Visa test card, as the other integration tests use it.
SANDBOX_CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}


@schemathesis.hook
def map_case(context, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return case
    if case.method.upper() == "POST" and case.operation.path == "/v1/payments" and isinstance(case.body, dict):
        case.body = {**case.body, "card": dict(SANDBOX_CARD)}
    if isinstance(case.query, dict) and "cursor" in case.query:
        case.query = {k: v for k, v in case.query.items() if k != "cursor"}
    return case
