import { Router } from 'express';
import { principalOf, requireScope } from '../auth/middleware';
import type { BalanceService } from '../balance/balance-service';
import { balanceQuery, balanceTransactionsQuery } from '../balance/schemas';
import { parseInput } from '../validation';

/** The merchant's balance and its transactions (`payments:read`): the token's subject is the merchant. */
export function balanceRoutes(balance: BalanceService): Router {
  const router = Router();
  const read = requireScope('payments:read');

  router.get('/v1/balance', read, async (req, res) => {
    parseInput(balanceQuery, req.query, 'query');
    res.json(await balance.balance(principalOf(res).subject));
  });

  router.get('/v1/balance_transactions', read, async (req, res) => {
    const query = parseInput(balanceTransactionsQuery, req.query, 'query');
    res.json(await balance.transactions(principalOf(res).subject, query));
  });

  return router;
}
