// Test cases for ../rules/card-data-logging.yml (semgrep --test). Bad on purpose; not scanned as code.
declare const logger: { info(...a: unknown[]): void; error(...a: unknown[]): void };
declare const card: { pan: string; cvc: string; last4: string; number: string };
declare const req: { body: unknown; log: { info(...a: unknown[]): void } };

// ruleid: gateway.log-of-card-field
console.log('card', card.pan);
// ruleid: gateway.log-of-card-field
logger.info({ cvv: card.cvc }, 'charging');
// ruleid: gateway.log-of-card-field
logger.error(`failed for ${card['card_number']}`);
// ok: gateway.log-of-card-field
logger.info({ last4: card.last4 }, 'charging');

// ruleid: gateway.log-of-request-body
console.log('incoming', req.body);
// ruleid: gateway.log-of-request-body
req.log.info({ body: req.body });
// ok: gateway.log-of-request-body
logger.info({ route: '/v1/payments' });
