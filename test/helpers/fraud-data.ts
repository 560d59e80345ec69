import fs from 'node:fs';
import path from 'node:path';

/** The repository: the nearest folder above with a package.json (from test/helpers and from dist-bench/test/helpers alike). */
function repositoryRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

/** The shared simulated transactions (../shared/data/fraud-sim/README.md), beside the repository as on every machine and in CI. */
export const SHARED_DATA = path.resolve(repositoryRoot(), '..', 'shared', 'data', 'fraud-sim', 'transactions-2018-04-01_2018-08-07.csv.gz');
