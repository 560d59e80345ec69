"""Schemathesis hooks for test/integration/schemathesis.test.ts (loaded through SCHEMATHESIS_HOOKS).

JSON Schema cannot say that a card number passes the Luhn check or that an expiry is in the
future, so a body that is valid by the OpenAPI document can still be a declined card (400
card_error), which schemathesis's positive_data_acceptance check would count as valid data
refused. Positive cases of POST /v1/payments therefore carry a sandbox test card (approved:
README, "Test cards") with a future expiry; every other part of the body stays generated.
Negative cases are left alone: they must be refused.
"""
import schemathesis

# The sandbox's approved Visa test card, as the other integration tests use it.
SANDBOX_CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}


@schemathesis.hook
def map_case(context, case):
    meta = case.meta
    positive = meta is not None and meta.generation.mode.is_positive
    if positive and case.method.upper() == "POST" and case.operation.path == "/v1/payments" and isinstance(case.body, dict):
        case.body = {**case.body, "card": dict(SANDBOX_CARD)}
    return case
