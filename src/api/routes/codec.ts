import { Router, type RequestHandler } from 'express';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { z } from 'zod';
import { ApiError } from '../errors';

/**
 * The remote codec endpoint the Temporal Web UI calls to show decoded payloads to operators
 * (Temporal's codec server protocol: POST {endpoint}/decode and /encode with
 * `{"payloads": [{"metadata": {k: base64}, "data": base64}]}`). Without it the UI shows ciphertext.
 * Payloads never hold card data, so decoding shows payment state, never a PAN or CVV.
 */
export const payloadsBody = z.object({
  payloads: z
    .array(z.object({ metadata: z.record(z.string(), z.string().base64()).optional(), data: z.string().base64().optional() }))
    .max(1000),
});

type JsonPayload = z.infer<typeof payloadsBody>['payloads'][number];

const fromJson = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: p.data === undefined ? undefined : Buffer.from(p.data, 'base64'),
});

const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')])),
  ...(p.data ? { data: Buffer.from(p.data).toString('base64') } : {}),
});

export function codecRoutes(codec: PayloadCodec, options: { allowedOrigins: string[]; authenticate: RequestHandler[] }): Router {
  const router = Router();
  // The UI runs in the operator's browser on another origin: answer its CORS preflight.
  const cors: RequestHandler = (req, res, next) => {
    const origin = req.get('origin');
    if (origin && options.allowedOrigins.includes(origin)) {
      res.set({
        'Access-Control-Allow-Origin': origin,
        'Access-Control-Allow-Methods': 'POST, OPTIONS',
        'Access-Control-Allow-Headers': 'Content-Type, X-Namespace, Authorization',
        'Access-Control-Allow-Credentials': 'true',
        Vary: 'Origin',
      });
    }
    if (req.method === 'OPTIONS') {
      res.sendStatus(204);
      return;
    }
    next();
  };
  router.use('/codec', cors);
  for (const direction of ['encode', 'decode'] as const) {
    // Operators only (the `ops` scope): decoded payloads are payment state.
    router.post(`/codec/${direction}`, ...options.authenticate, async (req, res) => {
      const parsed = payloadsBody.safeParse(req.body);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new ApiError(400, 'invalid_request_error', 'invalid_payloads', issue.message, issue.path.join('.') || 'payloads');
      }
      const payloads = parsed.data.payloads.map(fromJson);
      try {
        const result = await codec[direction](payloads);
        res.json({ payloads: result.map(toJson) });
      } catch {
        throw new ApiError(400, 'invalid_request_error', 'undecodable_payload', `A payload could not be ${direction}d: it is not one of ours, or it was altered`, 'payloads');
      }
    });
  }
  return router;
}
