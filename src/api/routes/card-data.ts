import { Router } from 'express';
import type { CardDataAttestations } from '../../audit/card-data-attestation';
import { requireScope } from '../auth/middleware';
import { ApiError } from '../errors';
import { paymentIdParam } from '../payments/schemas';
import { parseInput } from '../validation';

/**
 * GET /v1/payments/:id/card_data (`ops` scope): the retention attestation of a payment's card
 * (DESIGN.md §3, invariants 3 and 7), from the audit chain. Operations only: it names the
 * payment's intake and CVV references, which a merchant has no use for.
 */
export function cardDataRoutes(attestations: CardDataAttestations): Router {
  const router = Router();
  router.get('/v1/payments/:id/card_data', requireScope('ops'), async (req, res) => {
    const paymentId = parseInput(paymentIdParam, req.params.id, 'path', 'id');
    const attestation = await attestations.forPayment(paymentId);
    if (!attestation) throw new ApiError(404, 'not_found_error', 'payment_not_found', `No card data was ever sealed for payment ${paymentId}`, 'id');
    res.json(attestation);
  });
  return router;
}
