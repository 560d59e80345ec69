import { nextSettlementCutoff } from '../../src/workflows/payment/settlement-cutoff';

describe('next settlement cutoff', () => {
  const at = (iso: string) => Date.parse(iso);
  it('is later today when the cutoff has not passed', () => {
    expect(new Date(nextSettlementCutoff(at('2026-11-25T10:00:00Z'), '22:00')).toISOString()).toBe('2026-11-25T22:00:00.000Z');
  });
  it('is tomorrow once the cutoff has passed, or at the exact cutoff', () => {
    expect(new Date(nextSettlementCutoff(at('2026-11-25T22:30:00Z'), '22:00')).toISOString()).toBe('2026-11-26T22:00:00.000Z');
    expect(new Date(nextSettlementCutoff(at('2026-11-25T22:00:00Z'), '22:00')).toISOString()).toBe('2026-11-26T22:00:00.000Z');
  });
  it('crosses months and years', () => {
    expect(new Date(nextSettlementCutoff(at('2026-12-31T23:59:00Z'), '00:30')).toISOString()).toBe('2027-01-01T00:30:00.000Z');
  });
  it('takes seconds, and refuses a malformed cutoff', () => {
    expect(new Date(nextSettlementCutoff(at('2026-11-25T10:00:00Z'), '10:00:30')).toISOString()).toBe('2026-11-25T10:00:30.000Z');
    expect(() => nextSettlementCutoff(0, '25:00')).toThrow(/HH:MM/);
  });
});
