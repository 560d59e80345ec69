import path from 'node:path';

/** The shared simulated transactions (../shared/data/fraud-sim/README.md), beside the repository as on every machine and in CI. */
export const SHARED_DATA = path.resolve(__dirname, '..', '..', '..', 'shared', 'data', 'fraud-sim', 'transactions-2018-04-01_2018-08-07.csv.gz');
