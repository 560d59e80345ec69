import { temporal } from '@temporalio/proto';
import { findCardSecrets } from '../helpers/card-secret-scan';
import { historyJson } from '../helpers/leak-scan';
import { cardSecrets } from '../helpers/test-cards';

/**
 * The history scan reads a history as JSON. Temporal's counters are int64, which protobufjs's own
 * toJSON quotes: CI (stop 21) failed on a history whose `historySizeBytes` was 7319, read as the
 * quoted four-digit test CVC. A counter must stay a number; a CVC in a payload must still be found.
 */
const AMEX_CVC = '7319';

function history(attributes: { historySizeBytes?: number; payloadJson?: string }) {
  return temporal.api.history.v1.History.fromObject({
    events: [
      {
        eventId: 3,
        eventType: temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
        workflowTaskStartedEventAttributes: { scheduledEventId: 2, historySizeBytes: attributes.historySizeBytes ?? 512 },
      },
      ...(attributes.payloadJson === undefined
        ? []
        : [
            {
              eventId: 5,
              eventType: temporal.api.enums.v1.EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
              activityTaskScheduledEventAttributes: {
                activityId: '1',
                input: { payloads: [{ metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: Buffer.from(attributes.payloadJson).toString('base64') }] },
              },
            },
          ]),
    ],
  });
}

const hitsIn = (text: string) => [...findCardSecrets(text), ...cardSecrets().filter((s) => text.includes(s))];

describe('history leak scan', () => {
  it('reads an int64 counter equal to the test CVC as a number, not as the CVC', () => {
    const h = history({ historySizeBytes: Number(AMEX_CVC) });
    // fromObject made the counter a Long; protobufjs's own JSON is what the scan used to read: there the counter is a quoted string.
    expect(JSON.stringify(h)).toContain(`"historySizeBytes":"${AMEX_CVC}"`);
    expect(hitsIn(JSON.stringify(h)).length).toBeGreaterThan(0);
    expect(historyJson(h)).toContain(`"historySizeBytes":${AMEX_CVC}`);
    expect(hitsIn(historyJson(h))).toEqual([]);
  });

  it('still finds a CVC inside a payload (base64 in the JSON)', () => {
    const h = history({ payloadJson: JSON.stringify({ card: { cvc: AMEX_CVC } }) });
    expect(hitsIn(historyJson(h)).length).toBeGreaterThan(0);
  });

  it('finds nothing in a clean history', () => {
    expect(hitsIn(historyJson(history({ payloadJson: JSON.stringify({ token: 'tok_abc', amount: 1200 }) })))).toEqual([]);
  });
});
