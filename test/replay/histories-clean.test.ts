import { ENCRYPTED_ENCODING } from '../../src/temporal/payload-codec';
import { scanHistoryJson } from '../helpers/history-scan';
import { TEST_CARDS, TEST_CVCS } from '../helpers/test-cards';
import { recordedHistories } from './recorded-histories';

/**
 * The committed histories are public test data (DESIGN.md §3, invariant 1; docs/replay.md): no
 * test card number or CVC, no Luhn-valid 13–19 digit run, and no payload still encrypted (a
 * committed history must not need, or hint at, a key).
 */
describe('recorded histories', () => {
  it('carry no card data and no encrypted payload', () => {
    const histories = recordedHistories();
    const scans = histories.map((h) => ({ file: h.file, ...scanHistoryJson(h.json, h.file) }));
    const problems = scans.flatMap((s) => s.problems);
    if (problems.length > 0) throw new Error(`Recorded histories must be plain and free of card data:\n${problems.join('\n')}`);
    // A scan that saw no payload proves nothing: every history carries at least the workflow's input.
    expect(scans.filter((s) => s.payloads === 0).map((s) => s.file)).toEqual([]);
  });

  // The scan itself, on a small history made to fail it in each way: a scan that finds nothing
  // anywhere would pass the test above as well.
  describe('the scan', () => {
    // A history as the recorder writes it (the SDK's JSON form: ids as strings, bytes as base64).
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    type JsonPayload = { metadata: Record<string, string>; data: string };
    const historyWith = (payload: JsonPayload, failureMessage = 'fine') =>
      JSON.stringify({
        events: [
          {
            eventId: '1',
            eventType: 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED',
            workflowExecutionStartedEventAttributes: { workflowType: { name: 'paymentWorkflow' }, input: { payloads: [payload] } },
          },
          {
            eventId: '2',
            eventType: 'EVENT_TYPE_WORKFLOW_EXECUTION_FAILED',
            workflowExecutionFailedEventAttributes: { failure: { message: failureMessage } },
          },
        ],
      });
    const json = (value: unknown): JsonPayload => ({ metadata: { encoding: b64('json/plain') }, data: b64(JSON.stringify(value)) });

    it('passes a plain history with references only', () => {
      expect(scanHistoryJson(historyWith(json({ intakeRef: 'int_abc', cvvRef: 'cvv_abc', amount: 1999 })), 'plain').problems).toEqual([]);
    });

    it('finds a test card number or CVC inside a payload', () => {
      const pan = scanHistoryJson(historyWith(json({ number: TEST_CARDS.visa })), 'pan').problems;
      expect(pan.join('\n')).toMatch(/pan, payload #1 .*ending 4242/);
      const cvc = scanHistoryJson(historyWith(json({ cvc: TEST_CVCS[0] })), 'cvc').problems;
      expect(cvc.join('\n')).toMatch(/cvc, payload #1 .*ending 731/);
    });

    it('finds any Luhn-valid 13–19 digit run, in a payload or in the history JSON, without repeating it', () => {
      const other = '4012888888881881'; // Luhn-valid, not one of the test cards
      const inPayload = scanHistoryJson(historyWith(json({ note: `card ${other}` })), 'run').problems.join('\n');
      expect(inPayload).toMatch(/Luhn-valid 16-digit run ending 1881/);
      expect(inPayload).not.toContain(other);
      const inMessage = scanHistoryJson(historyWith(json({}), `declined ${other}`), 'message').problems.join('\n');
      expect(inMessage).toMatch(/message\.events\[1\].*Luhn-valid/);
      // Not Luhn-valid: not a card number.
      expect(scanHistoryJson(historyWith(json({ note: '4012888888881882' })), 'x').problems).toEqual([]);
    });

    it('finds a payload still encrypted with the gateway codec', () => {
      const encrypted = { metadata: { encoding: b64(ENCRYPTED_ENCODING), 'encryption-key-id': b64('k1') }, data: b64('ciphertext') };
      expect(scanHistoryJson(historyWith(encrypted), 'enc').problems.join('\n')).toMatch(/still encrypted/);
    });
  });
});
