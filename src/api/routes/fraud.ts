import { Router } from 'express';
import { principalOf, requireScope } from '../auth/middleware';
import type { FraudOpsService } from '../fraud/fraud-ops-service';
import { fraudReportBody, reviewListQuery } from '../fraud/schemas';
import { parseInput } from '../validation';

/** Operations only (`ops` scope): fraud labels and the review queue. A merchant token gets 403. */
export function fraudRoutes(fraud: FraudOpsService): Router {
  const router = Router();
  const ops = requireScope('ops');

  router.post('/v1/fraud/reports', ops, async (req, res) => {
    const body = parseInput(fraudReportBody, req.body, 'body');
    const { created, report } = await fraud.report(body.payment, body.reason, `operator:${principalOf(res).subject}`);
    res.status(created ? 201 : 200).json(report);
  });

  router.get('/v1/reviews', ops, async (req, res) => {
    const query = parseInput(reviewListQuery, req.query, 'query');
    res.json(await fraud.listReviews(query.limit, query.cursor));
  });

  return router;
}
