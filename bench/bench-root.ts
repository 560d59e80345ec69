import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_PROVISION_DIR } from '../src/temporal/binaries/tools';
import { ROOT as HELPERS_ROOT } from '../test/helpers/processes';

/** The checkout a benchmark runs from: the first directory above it with package.json and tsconfig.bench.json. */
export function projectRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'tsconfig.bench.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no project root (package.json and tsconfig.bench.json) above ${__dirname}`);
  }
}

/**
 * Compiled here, test/helpers/processes.ts takes dist-bench/ for the project root and starts the
 * stack's processes from dist-bench/dist/; src/temporal/binaries/tools.ts likewise looks for the
 * Temporal CLI in dist-bench/.temporal/. Link both to the real ones (build output, git-ignored).
 * The stack's process logs land in dist-bench/test-output/logs, away from the test suite's.
 */
export function linkHelperRoot(): void {
  const root = projectRoot();
  if (!fs.existsSync(path.join(root, 'dist', 'api', 'server.js'))) throw new Error('dist/ is not built: run `npm run build` (the bench:* scripts do)');
  fs.mkdirSync(path.join(root, '.temporal'), { recursive: true }); // resolveTemporalBinary provisions into it if empty
  const links: [string, string][] = [
    [path.join(HELPERS_ROOT, 'dist'), path.join(root, 'dist')],
    [DEFAULT_PROVISION_DIR, path.join(root, '.temporal')],
  ];
  for (const [link, target] of links) {
    if (path.resolve(link) === target) continue;
    if (!fs.existsSync(link)) {
      fs.rmSync(link, { force: true }); // a dangling link from a moved checkout
      fs.symlinkSync(target, link, 'dir');
    }
  }
}
