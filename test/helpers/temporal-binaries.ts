import { resolveTemporalBinary } from '../../src/temporal/binaries/resolve';

/** The binaries global-setup provisioned (found again in milliseconds, by the same resolver). */
export async function temporalCliPath(): Promise<string> {
  return (await resolveTemporalBinary('cli')).path;
}

export async function testServerPath(): Promise<string> {
  return (await resolveTemporalBinary('test-server')).path;
}
