/**
 * `node dist/cli/write-rds-ca.js <file>`: writes the RDS certificate authorities
 * (src/storage/rds-ca-bundle.ts) to a file, for the container image's NODE_EXTRA_CA_CERTS
 * (Dockerfile). The Lambda bundle gets the same file from build:lambda.
 */
import fs from 'node:fs';
import { rdsCaBundlePem } from '../storage/rds-ca-bundle';

const target = process.argv[2];
if (!target) {
  console.error('usage: write-rds-ca <file>');
  process.exit(2);
}
fs.writeFileSync(target, rdsCaBundlePem());
console.log(`${target}: the RDS certificate authorities`);
