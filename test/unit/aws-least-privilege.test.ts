import fs from 'node:fs';
import path from 'node:path';
import { parse, type CollectionTag, type ScalarTag } from 'yaml';

/**
 * The IAM roles in deploy/aws/template.yaml against the least-privilege table in
 * docs/deploy-aws.md, both ways: every (role, action, resource, condition) granted in the template
 * is a row of the table and every row is granted. Loosening a policy (a new action, a wider
 * resource, a dropped KMS condition, a secret read by one more task) fails here before it can reach
 * an account; the negative cases at the end loosen a parsed copy of the template to show it does.
 */
const ROOT = path.resolve(__dirname, '..', '..');

// CloudFormation short-form tags, read as their long forms ({ Ref }, { 'Fn::GetAtt' }, ...).
const FUNCTIONS = ['Ref', 'GetAtt', 'Sub', 'Join', 'Select', 'Split', 'If', 'Equals', 'Not', 'And', 'Or', 'FindInMap', 'ImportValue', 'Base64', 'Cidr', 'GetAZs'];
const longForm = (name: string) => (name === 'Ref' ? 'Ref' : `Fn::${name}`);
const CFN_TAGS: (ScalarTag | CollectionTag)[] = FUNCTIONS.flatMap((name) => [
  { tag: `!${name}`, resolve: (value: string) => ({ [longForm(name)]: name === 'GetAtt' ? value.split('.') : value }) } as ScalarTag,
  { tag: `!${name}`, collection: 'seq', resolve: (seq: { toJSON(): unknown }) => ({ [longForm(name)]: seq.toJSON() }) } as unknown as CollectionTag,
]);

type Condition = Record<string, Record<string, unknown>>;
interface Statement { Effect: string; Action: string | string[]; Resource: unknown; Condition?: Condition }
interface Resource { Type: string; Properties?: Record<string, unknown> }
interface Template { Resources: Record<string, Resource> }
interface Container { Name: string; Environment?: { Name: string; Value: unknown }[]; Secrets?: { Name: string; ValueFrom: unknown }[] }

const loadTemplate = (): Template => parse(fs.readFileSync(path.join(ROOT, 'deploy/aws/template.yaml'), 'utf8'), { customTags: CFN_TAGS }) as Template;
const list = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);
const ofType = (t: Template, type: string) => Object.entries(t.Resources).filter(([, r]) => r.Type === type);

/** The logical id a reference names: !Ref X, !GetAtt X.Arn, !Sub '${X}:json-key::'; anything else is itself. */
function resourceName(ref: unknown): string {
  if (typeof ref === 'string') return ref;
  const o = ref as Record<string, unknown>;
  if (typeof o.Ref === 'string') return o.Ref;
  if (Array.isArray(o['Fn::GetAtt'])) return String(o['Fn::GetAtt'][0]);
  if (typeof o['Fn::Sub'] === 'string') return o['Fn::Sub'].match(/^\$\{(\w+)\}/)?.[1] ?? o['Fn::Sub'];
  return JSON.stringify(ref);
}

interface Grant { role: string; action: string; resource: string; condition: string }

function statements(role: Resource): Statement[] {
  const policies = (role.Properties?.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[];
  return policies.flatMap((p) => p.PolicyDocument.Statement);
}

/**
 * A statement's condition as the table writes it: `kms:EncryptionContext:purpose = a, b`. The only
 * condition shape allowed is the KMS one (exactly the purpose key, and which purposes); anything
 * else is written out whole, so it can match no row.
 */
function conditionText(c: Condition | undefined): string {
  if (c === undefined) return '';
  const purposes = c.StringEquals?.['kms:EncryptionContext:purpose'];
  const expected = { 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['purpose'] }, StringEquals: { 'kms:EncryptionContext:purpose': purposes } };
  if (Array.isArray(purposes) && JSON.stringify(c) === JSON.stringify(expected)) return `kms:EncryptionContext:purpose = ${purposes.join(', ')}`;
  return JSON.stringify(c);
}

function templateGrants(t: Template): Grant[] {
  return ofType(t, 'AWS::IAM::Role').flatMap(([name, role]) =>
    statements(role).flatMap((s) =>
      list(s.Action).flatMap((action) => list(s.Resource).map((r) => ({ role: name, action, resource: resourceName(r), condition: conditionText(s.Condition) }))),
    ),
  );
}

function tableGrants(): Grant[] {
  const doc = fs.readFileSync(path.join(ROOT, 'docs/deploy-aws.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Least privilege'));
  const rows = section.split('\n').filter((l) => /^\| \w+Role \|/.test(l));
  return rows.map((l) => {
    const [role = '', action = '', resource = '', condition = ''] = l.split('|').slice(1, 5).map((c) => c.trim().replace(/`/g, ''));
    return { role, action, resource, condition };
  });
}

const key = (g: Grant) => `${g.role} ${g.action} ${g.resource} [${g.condition}]`;
const documented = tableGrants();

/** Grants in the template and not in the table, and rows of the table the template does not grant. */
function mismatches(t: Template): { extra: string[]; missing: string[] } {
  const granted = templateGrants(t).map(key);
  const rows = new Set(documented.map(key));
  return { extra: granted.filter((g) => !rows.has(g)), missing: [...rows].filter((r) => !granted.includes(r)) };
}

/** Per ECS task definition: the secrets its containers are given, and those its execution role may read. */
function taskSecrets(t: Template): { task: string; given: string[]; readable: string[] }[] {
  const grants = templateGrants(t);
  return ofType(t, 'AWS::ECS::TaskDefinition').map(([task, def]) => {
    const containers = def.Properties!.ContainerDefinitions as Container[];
    const executionRole = resourceName(def.Properties!.ExecutionRoleArn);
    const given = [...new Set(containers.flatMap((c) => (c.Secrets ?? []).map((s) => resourceName(s.ValueFrom))))].sort();
    const readable = grants.filter((g) => g.role === executionRole && g.action === 'secretsmanager:GetSecretValue').map((g) => g.resource).sort();
    return { task, given, readable };
  });
}

const clone = (t: Template): Template => JSON.parse(JSON.stringify(t)) as Template;
/** The statements of a role's first inline policy, as the array in the template (changing it changes the copy). */
const statementsOf = (t: Template, role: string) => (t.Resources[role]!.Properties!.Policies as { PolicyDocument: { Statement: Statement[] } }[])[0]!.PolicyDocument.Statement;

describe('deploy/aws/template.yaml IAM roles against docs/deploy-aws.md', () => {
  const template = loadTemplate();
  const granted = templateGrants(template);

  it('finds the roles and the table (the check is not vacuous)', () => {
    const roles = ofType(template, 'AWS::IAM::Role').map(([n]) => n);
    for (const name of ['ApiFunction', 'Vault', 'Payments', 'Fraud', 'Acquirer', 'Records']) expect(roles).toContain(name === 'ApiFunction' ? 'ApiFunctionRole' : `${name}TaskRole`);
    for (const name of ['Vault', 'Payments', 'Fraud', 'Acquirer', 'Records', 'UiProxy']) expect(roles).toContain(`${name}ExecutionRole`);
    expect(documented.length).toBeGreaterThanOrEqual(20);
  });

  it('grants nothing the table does not list, and every row of the table', () => {
    expect(mismatches(template)).toEqual({ extra: [], missing: [] });
    expect(granted.length).toBe(new Set(granted.map(key)).size);
  });

  it('allows only; no wildcard action or resource in an inline policy', () => {
    for (const [, role] of ofType(template, 'AWS::IAM::Role')) {
      for (const s of statements(role)) {
        expect(s.Effect).toBe('Allow');
        for (const a of list(s.Action)) expect(a).not.toMatch(/\*/);
        for (const r of list(s.Resource)) expect(resourceName(r)).not.toMatch(/\*/);
      }
    }
  });

  it('puts only the vault role on the card key, with the purposes the KMS provider sends, and nothing on the card purposes elsewhere', () => {
    expect(granted.filter((g) => g.resource === 'CardKey')).toEqual([
      { role: 'VaultTaskRole', action: 'kms:Decrypt', resource: 'CardKey', condition: 'kms:EncryptionContext:purpose = card-intake, card-pan, card-cvv, fingerprint-secret' },
      { role: 'VaultTaskRole', action: 'kms:GenerateDataKey', resource: 'CardKey', condition: 'kms:EncryptionContext:purpose = card-intake, card-pan, card-cvv, fingerprint-secret' },
      { role: 'VaultTaskRole', action: 'kms:DescribeKey', resource: 'CardKey', condition: '' },
    ]);
    // The provider sends { purpose } and nothing else (src/vault/keys/kms-key-provider.ts).
    const provider = fs.readFileSync(path.join(ROOT, 'src/vault/keys/kms-key-provider.ts'), 'utf8');
    expect(provider.match(/EncryptionContext: \{ ([^}]*) \}/g)?.map((m) => m.replace(/.*\{ | \}/g, ''))).toEqual(['purpose', 'purpose', 'purpose', 'purpose']);
    // The card key's own policy refuses its data keys to every principal but the vault's role.
    const vaultRoleName = (template.Resources.VaultTaskRole!.Properties!.RoleName as { 'Fn::Sub': string })['Fn::Sub'];
    const keyPolicy = template.Resources.CardKey!.Properties!.KeyPolicy as { Statement: (Statement & { Sid: string })[] };
    const deny = keyPolicy.Statement.find((s) => s.Effect === 'Deny')!;
    expect(list(deny.Action)).toEqual(expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey']));
    expect(resourceName(deny.Condition?.ArnNotEquals?.['aws:PrincipalArn'])).toBe(`arn:aws:iam::\${AWS::AccountId}:role/${vaultRoleName}`);
  });

  it('gives every process that encodes or decodes Temporal payloads the payload key for temporal-payload, and no other KMS key', () => {
    const payloadUsers = ['ApiFunctionRole', 'VaultTaskRole', 'PaymentsTaskRole', 'FraudTaskRole', 'AcquirerTaskRole', 'RecordsTaskRole'];
    for (const role of payloadUsers) {
      expect(granted.filter((g) => g.role === role && g.resource === 'PayloadKey').map((g) => `${g.action} [${g.condition}]`).sort()).toEqual([
        'kms:Decrypt [kms:EncryptionContext:purpose = temporal-payload]',
        'kms:DescribeKey []',
        'kms:GenerateDataKey [kms:EncryptionContext:purpose = temporal-payload]',
      ]);
    }
    expect([...new Set(granted.filter((g) => g.action.startsWith('kms:')).map((g) => g.role))].sort()).toEqual([...payloadUsers].sort());
  });

  it('configures each process for its keys: KMS_KEY_ID (the card key) on the vault worker alone, PAYLOAD_KMS_KEY_ID everywhere', () => {
    const keyVars: Record<string, string> = {};
    for (const [task, def] of ofType(template, 'AWS::ECS::TaskDefinition')) {
      for (const c of def.Properties!.ContainerDefinitions as Container[]) {
        const env = Object.fromEntries((c.Environment ?? []).map((e) => [e.Name, resourceName(e.Value)]));
        keyVars[`${task}/${c.Name}`] = `${env.KEY_PROVIDER ?? '-'} card=${env.KMS_KEY_ID ?? '-'} payload=${env.PAYLOAD_KMS_KEY_ID ?? '-'}`;
      }
    }
    const fn = (template.Resources.ApiFunction!.Properties!.Environment as { Variables: Record<string, unknown> }).Variables;
    keyVars.ApiFunction = `${String(fn.KEY_PROVIDER)} card=${fn.KMS_KEY_ID === undefined ? '-' : resourceName(fn.KMS_KEY_ID)} payload=${resourceName(fn.PAYLOAD_KMS_KEY_ID)}`;
    expect(keyVars).toEqual({
      ApiFunction: 'aws-kms card=- payload=PayloadKey',
      'PaymentsTaskDefinition/worker-payments': 'aws-kms card=- payload=PayloadKey',
      'VaultTaskDefinition/worker-vault': 'aws-kms card=CardKey payload=PayloadKey',
      'FraudTaskDefinition/worker-fraud': 'aws-kms card=- payload=PayloadKey',
      'AcquirerTaskDefinition/worker-acquirer': 'aws-kms card=- payload=PayloadKey',
      'RecordsTaskDefinition/worker-records': 'aws-kms card=- payload=PayloadKey',
      'UiProxyTaskDefinition/ui-proxy': '- card=- payload=-',
      'UiProxyTaskDefinition/temporal-ui': '- card=- payload=-',
    });
  });

  it('lets each task read exactly the secrets it is given, the database URL only where the code opens the database', () => {
    expect(taskSecrets(template)).toEqual([
      { task: 'PaymentsTaskDefinition', given: ['TemporalMtlsSecret'], readable: ['TemporalMtlsSecret'] },
      { task: 'VaultTaskDefinition', given: ['DatabaseUrlSecret', 'TemporalMtlsSecret'], readable: ['DatabaseUrlSecret', 'TemporalMtlsSecret'] },
      { task: 'FraudTaskDefinition', given: ['DatabaseUrlSecret', 'TemporalMtlsSecret'], readable: ['DatabaseUrlSecret', 'TemporalMtlsSecret'] },
      { task: 'AcquirerTaskDefinition', given: ['TemporalMtlsSecret'], readable: ['TemporalMtlsSecret'] },
      { task: 'RecordsTaskDefinition', given: ['DatabaseUrlSecret', 'TemporalMtlsSecret'], readable: ['DatabaseUrlSecret', 'TemporalMtlsSecret'] },
      { task: 'UiProxyTaskDefinition', given: ['TemporalMtlsSecret'], readable: ['TemporalMtlsSecret'] },
    ]);
    // Runtime (task) roles read no secret: ECS injects them through the execution role.
    expect(granted.filter((g) => g.role.endsWith('TaskRole') && g.action.startsWith('secretsmanager:'))).toEqual([]);
    // The RDS master secret is read by CloudFormation alone (the database URL is built from it).
    expect(granted.filter((g) => g.resource === 'DbSecret')).toEqual([]);
    // The workers that open the database (openDb in src/workers/*.ts) are exactly those given its URL.
    const opensDb = ['payments', 'vault', 'fraud', 'acquirer', 'records'].filter((w) => /openDb\(|openVault\(/.test(fs.readFileSync(path.join(ROOT, `src/workers/${w}.ts`), 'utf8')));
    expect(opensDb).toEqual(['vault', 'fraud', 'records']);
  });

  it('checks the database\'s certificate: verify-full in DATABASE_URL, and the RDS authorities trusted wherever it is read', () => {
    const url = (template.Resources.DatabaseUrlSecret!.Properties!.SecretString as { 'Fn::Sub': string })['Fn::Sub'];
    expect(new URL(url.replace(/\$\{[^}]+\}/g, 'x').replace('@x:x/', '@db.example:5432/')).searchParams.get('sslmode')).toBe('verify-full');
    const trusted: Record<string, string> = {};
    for (const [task, def] of ofType(template, 'AWS::ECS::TaskDefinition')) {
      for (const c of def.Properties!.ContainerDefinitions as Container[]) {
        if (!(c.Secrets ?? []).some((x) => x.Name === 'DATABASE_URL')) continue;
        trusted[`${task}/${c.Name}`] = String((c.Environment ?? []).find((e) => e.Name === 'NODE_EXTRA_CA_CERTS')?.Value ?? '-');
      }
    }
    const fn = (template.Resources.ApiFunction!.Properties!.Environment as { Variables: Record<string, unknown> }).Variables;
    trusted.ApiFunction = String(fn.NODE_EXTRA_CA_CERTS ?? '-');
    // Where the Dockerfile and build:lambda put the bundle (src/storage/rds-ca-bundle.ts).
    expect(trusted).toEqual({
      ApiFunction: '/var/task/rds-ca-bundle.pem',
      'VaultTaskDefinition/worker-vault': '/app/rds-ca-bundle.pem',
      'FraudTaskDefinition/worker-fraud': '/app/rds-ca-bundle.pem',
      'RecordsTaskDefinition/worker-records': '/app/rds-ca-bundle.pem',
    });
    expect(fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')).toMatch(/write-rds-ca\.js \/app\/rds-ca-bundle\.pem[\s\S]*COPY --from=build \/app\/rds-ca-bundle\.pem \.\/rds-ca-bundle\.pem/);
    expect(fs.readFileSync(path.join(ROOT, 'src/cli/build-lambda.ts'), 'utf8')).toContain('path.join(OUT, RDS_CA_BUNDLE_FILE), rdsCaBundlePem()');
  });

  describe('fails when the template is loosened (a parsed copy, changed in memory)', () => {
    it('an extra action on a role', () => {
      const t = clone(template);
      statementsOf(t, 'PaymentsTaskRole').push({ Effect: 'Allow', Action: 'kms:Decrypt', Resource: { 'Fn::GetAtt': ['CardKey', 'Arn'] } });
      expect(mismatches(t).extra).toEqual(['PaymentsTaskRole kms:Decrypt CardKey []']);
    });

    it('an extra resource on a statement', () => {
      const t = clone(template);
      const s = statementsOf(t, 'AcquirerExecutionRole')[0]!;
      s.Resource = [...list(s.Resource), { Ref: 'DatabaseUrlSecret' }];
      expect(mismatches(t).extra).toEqual(['AcquirerExecutionRole secretsmanager:GetSecretValue DatabaseUrlSecret []']);
      expect(taskSecrets(t).find((x) => x.task === 'AcquirerTaskDefinition')).toEqual({ task: 'AcquirerTaskDefinition', given: ['TemporalMtlsSecret'], readable: ['DatabaseUrlSecret', 'TemporalMtlsSecret'] });
    });

    it('a KMS condition dropped or widened', () => {
      const dropped = clone(template);
      delete statementsOf(dropped, 'ApiFunctionRole')[0]!.Condition;
      expect(mismatches(dropped).extra).toEqual(['ApiFunctionRole kms:Decrypt PayloadKey []', 'ApiFunctionRole kms:GenerateDataKey PayloadKey []']);
      const widened = clone(template);
      (statementsOf(widened, 'FraudTaskRole')[0]!.Condition!.StringEquals!['kms:EncryptionContext:purpose'] as string[]).push('card-pan');
      expect(mismatches(widened).extra).toHaveLength(2);
      const keysLoosened = clone(template);
      delete statementsOf(keysLoosened, 'RecordsTaskRole')[0]!.Condition!['ForAllValues:StringEquals'];
      expect(mismatches(keysLoosened).extra).toHaveLength(2);
    });

    it('a secret given to a task whose execution role cannot read it, or a grant removed', () => {
      const t = clone(template);
      const container = (t.Resources.PaymentsTaskDefinition!.Properties!.ContainerDefinitions as Container[])[0]!;
      container.Secrets!.push({ Name: 'DATABASE_URL', ValueFrom: { Ref: 'DatabaseUrlSecret' } });
      expect(taskSecrets(t).find((x) => x.task === 'PaymentsTaskDefinition')).toEqual({ task: 'PaymentsTaskDefinition', given: ['DatabaseUrlSecret', 'TemporalMtlsSecret'], readable: ['TemporalMtlsSecret'] });
      const removed = clone(template);
      statementsOf(removed, 'VaultTaskRole').splice(0, 1);
      expect(mismatches(removed).missing).toHaveLength(2);
    });
  });
});
