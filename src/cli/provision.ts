/**
 * `npm run provision`: obtains both Temporal binaries (see README, "Temporal binaries").
 * `npm start` and `npm test` call the same resolver, so running this by hand is optional;
 * it is useful to warm a machine or a Docker layer.
 */
import { resolveTemporalBinary } from '../temporal/binaries/resolve';
import type { TemporalTool } from '../temporal/binaries/tools';

async function main(): Promise<void> {
  const wanted = (process.argv.slice(2).length ? process.argv.slice(2) : ['cli', 'test-server']) as TemporalTool[];
  for (const tool of wanted) {
    const started = Date.now();
    const binary = await resolveTemporalBinary(tool);
    console.log(`${tool}: ${binary.path} (${binary.route}, ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  }
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
