import { Writable } from 'node:stream';
import { createLogger } from '../../src/logging/logger';
import { maskPans } from '../../src/logging/pan-mask';
import { TEST_CARDS, TEST_CVCS } from '../helpers/test-cards';

/** A logger writing into memory, to read back exactly what would reach the log. */
function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: createLogger({ name: 'test', level: 'info' }, stream), text: () => lines.join('') };
}

describe('logging never shows card data (DESIGN.md §3, invariant 2)', () => {
  it('redacts known card fields wherever they sit', () => {
    const { logger, text } = capture();
    logger.info({ card: { number: TEST_CARDS.visa, cvc: TEST_CVCS[0] }, body: { card: { cvv: TEST_CVCS[0], pan: TEST_CARDS.mastercard } } }, 'request');
    expect(text()).not.toContain(TEST_CARDS.visa);
    expect(text()).not.toContain(TEST_CARDS.mastercard);
    expect(text()).not.toContain(`"${TEST_CVCS[0]}"`);
    expect(text()).toContain('[REDACTED]');
  });

  it.each(Object.entries(TEST_CARDS))('masks the test card %s in messages, free-text fields, URLs and errors', (_name, pan) => {
    const { logger, text } = capture();
    const spaced = pan.replace(/(\d{4})(?=\d)/g, '$1 ');
    logger.info({ url: `/v1/payments?note=${pan}`, note: `card ${spaced} from the customer` }, `saw ${pan}`);
    logger.error({ err: new Error(`acquirer echoed ${pan}`) }, 'activity failed');
    logger.error(new Error(`thrown with ${pan.slice(0, 6)}-${pan.slice(6)}`));
    const out = text();
    expect(out).not.toContain(pan);
    expect(out).not.toContain(spaced);
    expect(out).toContain(`****${pan.slice(-4)}`);
  });

  it('leaves other numbers alone: amounts, timestamps, ids that fail the Luhn check', () => {
    expect(maskPans('amount 1999 at 1764072000000, order 4242424242424241')).toBe('amount 1999 at 1764072000000, order 4242424242424241');
    expect(maskPans('pan 4242424242424242.')).toBe('pan [card ****4242].');
  });
});
