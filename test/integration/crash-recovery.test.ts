import fs from 'node:fs';
import { optionalTsToMs } from '@temporalio/common/lib/time';
import type { LedgerEntry } from '../../src/acquirer/sandbox/ledger';
import { paymentIdFor } from '../../src/api/payments/payment-service';
import { startGatewayStack, type GatewayStack } from '../helpers/gateway-stack';
import { TEST_CARDS } from '../helpers/test-cards';
import { seededRandom } from '../../src/acquirer/sandbox/seeded-random';

/**
 * Crash test (DESIGN.md §6, "Faults"): a worker process killed with SIGKILL while an authorization
 * (vault worker) or a capture (acquirer worker) is in flight, then restarted. Every payment must
 * finish, and the sandbox's ledger must show exactly one authorization and one capture for it:
 * the retried activity carries the same idempotency key, so the acquirer answers it from its
 * idempotency record instead of moving money again. The one exception is by design: a killed
 * vault worker's CVV epoch keys die with it (docs/vault.md), so a payment whose CVV it had not yet
 * sent to the acquirer fails with cvv_unavailable — and then nothing may have moved for it.
 *
 * The sandbox is given latency so every acquirer call takes a while; 20 payments are started one
 * after the other, each followed by a SIGKILL of the vault or the acquirer worker (alternately) at
 * a random point of that payment's authorization or capture, and a restart. The payments run in
 * parallel, so the whole run costs a few activity timeouts (an activity whose worker died is only
 * retried when its startToCloseTimeout, 15 s, expires: no heartbeats), not twenty.
 *
 * Reproduce a run with CRASH_TEST_SEED=<the seed it printed>.
 */

const PAYMENTS = 20;
/** Sandbox latency per money call: the window in which a kill finds the call pending at the acquirer. */
const LATENCY_MS = 800;
/** At least this many kills must land while the acquirer had the killed worker's call pending. */
const MIN_KILLS_IN_FLIGHT = 5;
const MERCHANT = 'm_crash';

type KilledQueue = 'vault' | 'acquirer';
/** The money call each killed worker makes: the vault worker authorizes (it holds the CVV), the acquirer worker captures. */
const operationOf: Record<KilledQueue, string> = { vault: 'authorize', acquirer: 'capture' };

/** Approved test cards, automatic capture; the CVC follows the card (amex has four digits). */
const CARDS = [
  { label: 'visa', number: TEST_CARDS.visa, cvc: '731' },
  { label: 'mastercard', number: TEST_CARDS.mastercard, cvc: '731' },
  { label: 'discover', number: TEST_CARDS.discover, cvc: '731' },
  { label: 'amex', number: TEST_CARDS.amex, cvc: '7319' },
] as const;

interface CrashPayment {
  index: number;
  id: string;
  cardLabel: string;
  amount: number;
  target: KilledQueue;
  delayMs: number;
  postedAt: number;
  killedAt: number;
  response: Promise<{ status: number; body: { id?: string; status?: string } }>;
}

/** One line of the sandbox's log that answered a money call (src/acquirer/sandbox/app.ts, logAnswer). */
interface SandboxAnswer {
  operation: string;
  idempotencyKey: string;
  replayed: boolean;
  at: number;
}


const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function sandboxAnswers(logFile: string): SandboxAnswer[] {
  const answers: SandboxAnswer[] = [];
  for (const line of fs.readFileSync(logFile, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    let entry: { operation?: unknown; idempotencyKey?: unknown; replayed?: unknown; time?: unknown; httpStatus?: unknown };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue;
    }
    if (typeof entry.operation !== 'string' || typeof entry.idempotencyKey !== 'string' || typeof entry.replayed !== 'boolean') continue;
    if (typeof entry.time !== 'string' || typeof entry.httpStatus !== 'number') continue;
    answers.push({ operation: entry.operation, idempotencyKey: entry.idempotencyKey, replayed: entry.replayed, at: Date.parse(entry.time) });
  }
  return answers;
}

/**
 * When the sandbox logged the arrival of the call with this idempotency key ("<operation> received",
 * src/acquirer/sandbox/app.ts), or now if it has not arrived within `timeoutMs` (a declined or
 * held-up payment): the kill then simply lands elsewhere.
 */
async function waitForArrival(logFile: string, idempotencyKey: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const line of fs.readFileSync(logFile, 'utf8').split('\n')) {
      if (!line.includes(idempotencyKey) || !line.includes(' received"')) continue;
      try {
        const entry = JSON.parse(line) as { idempotencyKey?: string; time?: string };
        if (entry.idempotencyKey === idempotencyKey && entry.time) return Date.parse(entry.time);
      } catch {
        // a line still being written
      }
    }
    await sleep(20);
  }
  return Date.now();
}

describe('crash recovery: workers killed with SIGKILL mid-authorization and mid-capture', () => {
  let gateway: GatewayStack;

  beforeAll(async () => {
    gateway = await startGatewayStack({
      // Twenty payments with four cards within a minute: keep the velocity rules from sending any to review.
      env: { FRAUD_CARD_HOURLY_LIMIT: '1000', FRAUD_MERCHANT_MINUTE_LIMIT: '1000' },
    });
  }, 120_000);

  afterAll(async () => {
    await gateway?.sandbox.setFaults({}).catch(() => undefined);
    await gateway?.stop();
  }, 60_000);

  it(`${PAYMENTS} payments, a worker killed during each: every one captured with one authorization and one capture, or its CVV lost with the vault worker and nothing moved`, async () => {
    const seed = process.env.CRASH_TEST_SEED ? Number(process.env.CRASH_TEST_SEED) : Date.now() % 2 ** 31;
    const random = seededRandom(seed);
    const between = (min: number, max: number) => Math.floor(min + random() * (max - min));
    console.log(`crash-recovery: seed ${seed} (rerun with CRASH_TEST_SEED=${seed})`);

    await gateway.sandbox.setFaults({ latencyMs: LATENCY_MS });
    const runId = `${seed}-${Date.now()}`;
    const started = Date.now();

    // ---- start the payments one by one, killing a worker during each ------------------------------
    const payments: CrashPayment[] = [];
    for (let index = 0; index < PAYMENTS; index++) {
      const card = CARDS[index % CARDS.length]!;
      const target: KilledQueue = index % 2 === 0 ? 'vault' : 'acquirer';
      // A random point of the call the target worker makes for this payment: the authorization
      // starts ~100-200 ms after the POST and lasts LATENCY_MS; the capture follows it.
      // Anchored kills are vault kills: an automatic-capture payment is one "sale" call, made by the
      // vault worker (it holds the CVV), so no capture call arrives for an acquirer kill to wait on.
      const anchored = target === 'vault' && index % 6 !== 0;
      const delayMs = anchored
        ? between(50, LATENCY_MS - 150)
        : target === 'vault'
          ? between(0, LATENCY_MS + 300)
          : between(LATENCY_MS, 2 * LATENCY_MS + 500);
      const amount = between(500, 50_000);
      const idempotencyKey = `crash-${runId}-${index}`;
      const postedAt = Date.now();
      const response = gateway.request('POST', '/v1/payments', {
        merchant: MERCHANT,
        headers: { 'Idempotency-Key': idempotencyKey },
        body: { amount, currency: 'USD', capture_method: 'automatic', card: { number: card.number, exp_month: 12, exp_year: 2030, cvc: card.cvc } },
      });
      // Awaited after the kills; this only keeps an early failure from being reported as unhandled.
      response.catch(() => undefined);
      if (anchored) {
        // Six of the ten vault kills wait for the call to reach the acquirer and land inside its latency: the
        // money will move and the killed worker will never hear it. Random delays alone put too
        // few there on a loaded machine (CI stop 20: 4 of 20).
        const arrived = await waitForArrival(gateway.sandbox.process.logFile, `${paymentIdFor(MERCHANT, idempotencyKey)}:${operationOf[target]}`, 10_000);
        await sleep(Math.max(0, arrived + delayMs - Date.now()));
      } else {
        await sleep(Math.max(0, postedAt + delayMs - Date.now()));
      }

      const worker = gateway.stack.workers.get(target)!;
      const killedAt = Date.now();
      const exit = await worker.stop('SIGKILL');
      expect(exit.signal).toBe('SIGKILL');
      await gateway.stack.startWorker(target);

      payments.push({ index, id: paymentIdFor(MERCHANT, idempotencyKey), cardLabel: card.label, amount, target, delayMs, postedAt, killedAt, response });
    }
    const killsDone = Date.now();

    const answeredWith = new Map<number, number>();
    for (const p of payments) {
      const { status, body } = await p.response;
      answeredWith.set(status, (answeredWith.get(status) ?? 0) + 1);
      // 201 when the decision came within AUTHORIZATION_WAIT_MS, 202 when a killed activity held it up.
      expect([201, 202]).toContain(status);
      expect(body.id).toBe(p.id);
    }

    // ---- every payment finishes ----------------------------------------------------------------------
    // A killed activity is retried once its startToCloseTimeout (15 s, src/workflows/payment/payment-workflow.ts)
    // expires; one may be killed again on its retry. The deadline allows several of those in a row.
    const deadline = Date.now() + 180_000;
    const finalStatus = new Map<string, string>();
    const capturedAt = new Map<string, number>();
    while (finalStatus.size < payments.length && Date.now() < deadline) {
      for (const p of payments) {
        if (finalStatus.has(p.id)) continue;
        const { status, body } = await gateway.request('GET', `/v1/payments/${p.id}`, { merchant: MERCHANT });
        if (status !== 200) continue;
        const view = body as { status: string; timeline: { at: string; event: string }[] };
        if (['captured', 'settled', 'declined', 'failed', 'canceled', 'reversed'].includes(view.status)) {
          finalStatus.set(p.id, view.status);
          const captured = view.timeline.find((t) => t.event === 'payment.captured');
          if (captured) capturedAt.set(p.id, Date.parse(captured.at));
        }
      }
      if (finalStatus.size < payments.length) await sleep(1_000);
    }
    const finished = Date.now();
    const unfinished = payments.filter((p) => !finalStatus.has(p.id)).map((p) => p.id);
    expect(unfinished).toEqual([]);
    // `captured` is finished for this test (settlement waits for the daily cutoff); `settled` if the run crossed it.
    // The one other outcome is deliberate (docs/vault.md, "When a vault worker restarts"): a CVV's epoch key lives
    // only in the vault worker's memory, so a SIGKILLed vault worker takes with it the CVVs it had not yet sent to the
    // acquirer. Those payments fail with cvv_unavailable, after the inquiry found nothing — and move no money (below).
    const failures = new Map<string, string>();
    for (const p of payments.filter((x) => finalStatus.get(x.id) === 'failed')) {
      const { body } = await gateway.request('GET', `/v1/payments/${p.id}`, { merchant: MERCHANT });
      failures.set(p.id, JSON.stringify((body as { failure?: unknown }).failure ?? body));
    }
    // cvv_held_elsewhere while the killed worker's heartbeat is still recent (its epochs look alive for three sweep
    // intervals), cvv_unavailable after: the same loss, seen before and after the heartbeat ran out.
    const cvvLost = new Set([...failures].filter(([, failure]) => /cvv_unavailable|cvv_held_elsewhere/.test(failure)).map(([id]) => id));
    const notCaptured = payments
      .filter((p) => !['captured', 'settled'].includes(finalStatus.get(p.id)!) && !cvvLost.has(p.id))
      .map((p) => `${p.id}: ${finalStatus.get(p.id)} ${failures.get(p.id) ?? ''}`);
    expect(notCaptured).toEqual([]);
    // CVVs are lost only to vault kills, and most payments still capture (an attempt killed while its call was at the
    // acquirer is found by the inquiry and captured).
    if (cvvLost.size > 0) expect(payments.some((p) => p.target === 'vault')).toBe(true);
    expect(cvvLost.size).toBeLessThan(payments.length / 2);

    // ---- the ledger: exactly one authorization and one capture per payment, no key twice ----------------
    const ledger = await gateway.sandbox.ledger();
    const keys = ledger.map((e) => e.idempotency_key);
    expect(keys.filter((k, i) => keys.indexOf(k) !== i)).toEqual([]);
    for (const p of payments) {
      const rows = ledger.filter((e) => e.idempotency_key.startsWith(`${p.id}:`));
      const authorizations = rows.filter((e) => e.kind === 'authorization');
      const captures = rows.filter((e) => e.kind === 'capture');
      const summary = (e: LedgerEntry) => ({ kind: e.kind, status: e.status, amount: e.amount, key: e.idempotency_key });
      if (cvvLost.has(p.id)) {
        // Its authorization never reached the acquirer: no approved authorization, no capture, nothing else moved.
        expect({ payment: p.id, moved: rows.filter((e) => e.status === 'approved' || e.status === 'succeeded').map(summary) }).toEqual({ payment: p.id, moved: [] });
        continue;
      }
      expect({ payment: p.id, authorizations: authorizations.map(summary), captures: captures.map(summary) }).toEqual({
        payment: p.id,
        authorizations: [{ kind: 'authorization', status: 'approved', amount: p.amount, key: `${p.id}:authorize` }],
        captures: [{ kind: 'capture', status: 'succeeded', amount: p.amount, key: `${p.id}:capture` }],
      });
      expect(captures[0]!.parent_ref).toBe(authorizations[0]!.ref);
      // Nothing else moved: no void, no refund (a settlement only if the run crossed the cutoff).
      expect(rows.filter((e) => !['authorization', 'capture', 'settlement'].includes(e.kind)).map(summary)).toEqual([]);
    }

    // ---- where the kills landed -------------------------------------------------------------------------
    // The sandbox logs every answer with its time; a call answered LATENCY_MS after it arrived was
    // pending at the acquirer during [answer - LATENCY_MS, answer]. A kill in that window killed the
    // worker waiting for it: the money moved, the worker never reported it, and the retry must be
    // answered from the idempotency record (a replay), never by a second movement.
    const answers = sandboxAnswers(gateway.sandbox.process.logFile);
    const ours = new Set(payments.map((p) => p.id));
    const firstAnswers = answers.filter((a) => !a.replayed && ours.has(a.idempotencyKey.split(':')[0]!));
    const pendingAtKill: { kill: number; key: string }[] = [];
    for (const p of payments) {
      for (const a of firstAnswers) {
        // Margin: an answer sent within 20 ms of the kill may have been reported before the worker died.
        if (a.operation === operationOf[p.target] && a.at - LATENCY_MS <= p.killedAt && a.at >= p.killedAt + 20) {
          pendingAtKill.push({ kill: p.index, key: a.idempotencyKey });
        }
      }
    }
    const killsInFlight = new Set(pendingAtKill.map((x) => x.kill)).size;
    const replayedKeys = new Set(answers.filter((a) => a.replayed && ours.has(a.idempotencyKey.split(':')[0]!)).map((a) => a.idempotencyKey));
    // Every capture a kill interrupted was retried with its idempotency key and answered from the record. An
    // authorization a vault kill interrupted is not re-sent (its CVV died with the worker): the inquiry by its key
    // found it, and the ledger check above shows that payment captured with exactly one authorization.
    const notReplayed = pendingAtKill.filter((x) => x.key.endsWith(':capture') && !replayedKeys.has(x.key)).map((x) => x.key);
    expect(notReplayed).toEqual([]);

    // Which activities lost an attempt to a kill (Temporal's history: attempt > 1; no errors are injected here).
    // How long a lost attempt cost: from the activity's scheduling to the start of its last attempt.
    const lostAttempts = new Map<string, number>();
    let longestRecoveryMs = 0;
    const ms = (t: Parameters<typeof optionalTsToMs>[0]) => optionalTsToMs(t) ?? 0;
    for (const p of payments) {
      const history = await gateway.stack.client.workflow.getHandle(p.id).fetchHistory();
      const scheduled = new Map<string, string>();
      const scheduledAt = new Map<string, number>();
      for (const event of history.events ?? []) {
        const s = event.activityTaskScheduledEventAttributes;
        if (s) scheduled.set(String(event.eventId), s.activityType?.name ?? '?');
        if (s) scheduledAt.set(String(event.eventId), ms(event.eventTime));
        const st = event.activityTaskStartedEventAttributes;
        if (st && (st.attempt ?? 1) > 1) {
          const name = scheduled.get(String(st.scheduledEventId)) ?? '?';
          lostAttempts.set(name, (lostAttempts.get(name) ?? 0) + (st.attempt! - 1));
          longestRecoveryMs = Math.max(longestRecoveryMs, ms(event.eventTime) - (scheduledAt.get(String(st.scheduledEventId)) ?? ms(event.eventTime)));
        }
      }
    }

    // The heuristic of the brief: the kill came after the POST and before that payment was captured.
    const killsBeforeOwnCapture = payments.filter((p) => p.killedAt > p.postedAt && p.killedAt < (capturedAt.get(p.id) ?? Infinity)).length;

    console.log(
      `crash-recovery: seed ${seed}; ${PAYMENTS} payments, ${PAYMENTS} SIGKILLs (vault ${payments.filter((p) => p.target === 'vault').length}, ` +
        `acquirer ${payments.filter((p) => p.target === 'acquirer').length}); kills with the killed worker's acquirer call pending: ${killsInFlight} ` +
        `(${pendingAtKill.length} calls: captures answered by replay on retry, authorizations found by inquiry); kills after the POST and before that payment's capture: ${killsBeforeOwnCapture}; ` +
        `sandbox replays: ${replayedKeys.size}; attempts lost to kills: ${JSON.stringify(Object.fromEntries(lostAttempts))}, ` +
        `longest scheduled-to-last-attempt ${(longestRecoveryMs / 1000).toFixed(1)} s; POST answers ${JSON.stringify(Object.fromEntries(answeredWith))}; ` +
        `kill phase ${((killsDone - started) / 1000).toFixed(1)} s, all final ${((finished - started) / 1000).toFixed(1)} s after the first POST; ` +
        `CVVs lost to vault kills (payment failed, nothing moved): ${cvvLost.size}`,
    );
    expect(killsInFlight).toBeGreaterThanOrEqual(MIN_KILLS_IN_FLIGHT);
  }, 420_000);
});
