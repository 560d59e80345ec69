import fs from 'node:fs';
import path from 'node:path';
import { parse, type CollectionTag, type ScalarTag } from 'yaml';

/**
 * The IAM roles in deploy/aws/template.yaml against the least-privilege table in
 * docs/deploy-aws.md, both ways: every (role, action, resource) granted in the template is a row
 * of the table and every row is granted. Loosening a policy (a new action, a wider resource, a
 * dropped KMS condition) fails here before it can reach an account.
 */
const ROOT = path.resolve(__dirname, '..', '..');

// CloudFormation short-form tags, read as their long forms ({ Ref }, { 'Fn::GetAtt' }, ...).
const FUNCTIONS = ['Ref', 'GetAtt', 'Sub', 'Join', 'Select', 'Split', 'If', 'Equals', 'Not', 'And', 'Or', 'FindInMap', 'ImportValue', 'Base64', 'Cidr', 'GetAZs'];
const longForm = (name: string) => (name === 'Ref' ? 'Ref' : `Fn::${name}`);
const CFN_TAGS: (ScalarTag | CollectionTag)[] = FUNCTIONS.flatMap((name) => [
  { tag: `!${name}`, resolve: (value: string) => ({ [longForm(name)]: name === 'GetAtt' ? value.split('.') : value }) } as ScalarTag,
  { tag: `!${name}`, collection: 'seq', resolve: (seq: { toJSON(): unknown }) => ({ [longForm(name)]: seq.toJSON() }) } as unknown as CollectionTag,
]);

interface Statement { Effect: string; Action: string | string[]; Resource: unknown; Condition?: Record<string, Record<string, unknown>> }
interface Resource { Type: string; Properties?: Record<string, unknown> }

const template = parse(fs.readFileSync(path.join(ROOT, 'deploy/aws/template.yaml'), 'utf8'), { customTags: CFN_TAGS }) as { Resources: Record<string, Resource> };
const roles = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::IAM::Role');

const list = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/** The logical id a resource reference names: !Ref X, !GetAtt X.Arn; anything else is itself. */
function resourceName(ref: unknown): string {
  if (typeof ref === 'string') return ref;
  const o = ref as Record<string, unknown>;
  if (typeof o.Ref === 'string') return o.Ref;
  if (Array.isArray(o['Fn::GetAtt'])) return String(o['Fn::GetAtt'][0]);
  return JSON.stringify(ref);
}

interface Grant { role: string; action: string; resource: string; condition: string }

function statements(role: Resource): Statement[] {
  const policies = (role.Properties?.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[];
  return policies.flatMap((p) => p.PolicyDocument.Statement);
}

function templateGrants(): Grant[] {
  return roles.flatMap(([name, role]) =>
    statements(role).flatMap((s) => {
      const keys = Object.values(s.Condition ?? {}).flatMap((c) => Object.keys(c).filter((k) => k.startsWith('kms:EncryptionContext:')));
      return list(s.Action).flatMap((action) =>
        list(s.Resource).map((r) => ({ role: name, action, resource: resourceName(r), condition: keys.join(',') })),
      );
    }),
  );
}

function tableGrants(): Grant[] {
  const doc = fs.readFileSync(path.join(ROOT, 'docs/deploy-aws.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Least privilege'));
  const rows = section.split('\n').filter((l) => /^\| \w+Role \|/.test(l));
  return rows.map((l) => {
    const [role = '', action = '', resource = '', condition = ''] = l.split('|').slice(1, 5).map((c) => c.trim());
    return { role, action, resource, condition };
  });
}

const key = (g: Grant) => `${g.role} ${g.action} ${g.resource} [${g.condition}]`;

describe('deploy/aws/template.yaml IAM roles against docs/deploy-aws.md', () => {
  const granted = templateGrants();
  const documented = tableGrants();

  it('finds the roles and the table (the check is not vacuous)', () => {
    expect(roles.map(([n]) => n)).toEqual(expect.arrayContaining(['ApiFunctionRole', 'VaultTaskRole', 'AcquirerTaskRole', 'PaymentsTaskRole', 'FraudTaskRole', 'RecordsTaskRole', 'TaskExecutionRole']));
    expect(documented.length).toBeGreaterThanOrEqual(10);
  });

  it('grants nothing the table does not list, and every row of the table', () => {
    expect(granted.map(key).sort()).toEqual([...new Set(documented.map(key))].sort());
    expect(granted.length).toBe(new Set(granted.map(key)).size);
  });

  it('allows only; no wildcard action or resource in an inline policy', () => {
    for (const [, role] of roles) {
      for (const s of statements(role)) {
        expect(s.Effect).toBe('Allow');
        for (const a of list(s.Action)) expect(a).not.toMatch(/\*/);
        for (const r of list(s.Resource)) expect(resourceName(r)).not.toMatch(/\*/);
      }
    }
  });

  it('gives kms:Decrypt to the vault role alone, on the card key, conditioned on the purposes the KMS provider sends', () => {
    const decrypt = granted.filter((g) => g.action === 'kms:Decrypt' || g.action === 'kms:*');
    expect(decrypt).toEqual([{ role: 'VaultTaskRole', action: 'kms:Decrypt', resource: 'CardKey', condition: 'kms:EncryptionContext:purpose' }]);
    const vault = template.Resources.VaultTaskRole;
    expect(vault).toBeDefined();
    const stmt = statements(vault!).find((s) => list(s.Action).includes('kms:Decrypt'))!;
    expect(stmt.Condition?.StringEquals?.['kms:EncryptionContext:purpose']).toEqual(['card-intake', 'card-pan', 'card-cvv', 'fingerprint-secret']);
    // The provider sends { purpose } and nothing else (src/vault/keys/kms-key-provider.ts).
    const provider = fs.readFileSync(path.join(ROOT, 'src/vault/keys/kms-key-provider.ts'), 'utf8');
    expect(provider.match(/EncryptionContext: \{ ([^}]*) \}/g)?.map((m) => m.replace(/.*\{ | \}/g, ''))).toEqual(['purpose', 'purpose', 'purpose', 'purpose']);
  });

  it('gives the API and the acquirer no KMS permission, and the acquirer no card or database secret', () => {
    for (const role of ['ApiFunctionRole', 'AcquirerTaskRole', 'PaymentsTaskRole', 'FraudTaskRole', 'RecordsTaskRole']) {
      expect(granted.filter((g) => g.role === role && g.action.startsWith('kms:'))).toEqual([]);
    }
    expect(granted.filter((g) => g.role === 'AcquirerTaskRole').map((g) => g.resource).sort()).toEqual(['AcquirerCredentialsSecret', 'PayloadKeySecret', 'TemporalMtlsSecret']);
    expect(granted.filter((g) => g.resource === 'AcquirerCredentialsSecret').map((g) => g.role)).toEqual(['AcquirerTaskRole']);
  });
});
