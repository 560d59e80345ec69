/**
 * The next daily settlement cutoff strictly after `nowMs`, for a cutoff given as "HH:MM" (or
 * "HH:MM:SS") in UTC. Pure and deterministic: the workflow calls it with its own clock.
 */
export function nextSettlementCutoff(nowMs: number, cutoffUtc: string): number {
  const match = /^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$/.exec(cutoffUtc);
  if (!match) throw new Error(`Settlement cutoff must be HH:MM in UTC, got ${cutoffUtc}`);
  const now = new Date(nowMs);
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), Number(match[1]), Number(match[2]), Number(match[3] ?? 0));
  return today > nowMs ? today : today + 24 * 60 * 60 * 1000;
}
