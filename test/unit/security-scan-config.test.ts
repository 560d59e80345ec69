import { execFileSync, spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The scanners of `npm run security:scan` (docs/security-scanning.md), run for real: the committed
 * semgrep rules parse and each finds the bad code in its test cases, a bad snippet planted in a temp
 * dir fails the semgrep scan, and a secret made at run time (never written in this repo) fails the
 * secret scan of .ci/security-scan.sh, in the working tree and in the git history. Together they show
 * the CI steps can fail, not only pass.
 */
const ROOT = path.resolve(__dirname, '..', '..');
const SEMGREP = path.join(ROOT, '.tools', 'semgrep', 'venv', 'bin', 'semgrep');
const GITLEAKS = path.join(ROOT, '.tools', 'gitleaks', 'bin', 'gitleaks');
const OFFLINE = { ...process.env, SEMGREP_SEND_METRICS: 'off', SEMGREP_ENABLE_VERSION_CHECK: '0' };
// A cold install downloads semgrep from PyPI and builds gitleaks from its Go module (minutes on a
// loaded machine); both are no-ops once .ci/run or an earlier run installed them.
const INSTALL_TIMEOUT_MS = 12 * 60_000;

const tempDirs: string[] = [];
function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

function semgrepScan(target: string) {
  return spawnSync(
    SEMGREP,
    ['scan', '--config', path.join(ROOT, '.semgrep', 'rules'), '--metrics=off', '--disable-version-check', '--error', '--json', '--quiet', target],
    { encoding: 'utf8', env: OFFLINE, maxBuffer: 32 * 1024 * 1024 },
  );
}

function git(cwd: string, ...args: string[]): void {
  execFileSync('git', ['-c', 'user.name=test', '-c', 'user.email=test@example.invalid', '-c', 'commit.gpgsign=false', ...args], { cwd, stdio: 'pipe' });
}

/** A secret scanners must recognise, made here and now: a PEM private key and a GitHub-style token. */
function freshSecrets(): { pem: string; githubToken: string } {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const body = [...randomBytes(36)].map((b) => alphabet[b % alphabet.length]).join('');
  return { pem, githubToken: ['ghp', body].join('_') };
}

/** A throw-away repository with this project's secret-scan script, config and installed gitleaks. */
function scratchRepo(): string {
  const repo = tempDir('secret-scan-');
  fs.mkdirSync(path.join(repo, '.ci'));
  for (const file of ['.ci/security-scan.sh', '.ci/install-gitleaks.sh', '.gitleaks.toml']) {
    fs.copyFileSync(path.join(ROOT, file), path.join(repo, file));
  }
  fs.symlinkSync(path.join(ROOT, '.tools'), path.join(repo, '.tools'));
  fs.writeFileSync(path.join(repo, '.gitignore'), '.tools\nlocal-keys/\n');
  fs.writeFileSync(path.join(repo, 'README.md'), 'scratch repository for the secret-scan test\n');
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, 'add', '.');
  git(repo, 'commit', '-q', '-m', 'start');
  return repo;
}

function secretScan(repo: string) {
  return spawnSync('bash', [path.join(repo, '.ci', 'security-scan.sh'), 'secrets'], { cwd: repo, encoding: 'utf8' });
}

beforeAll(() => {
  execFileSync('bash', [path.join(ROOT, '.ci', 'install-semgrep.sh')], { stdio: 'pipe', timeout: INSTALL_TIMEOUT_MS });
  execFileSync('bash', [path.join(ROOT, '.ci', 'install-gitleaks.sh')], { stdio: 'pipe', timeout: INSTALL_TIMEOUT_MS });
}, 2 * INSTALL_TIMEOUT_MS);

afterAll(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe('semgrep rules in .semgrep/rules', () => {
  it('parse, and each rule finds exactly the lines its test cases mark (semgrep --test)', () => {
    const run = spawnSync(SEMGREP, ['--test', '--metrics=off', '--disable-version-check', '--config', path.join(ROOT, '.semgrep', 'rules'), path.join(ROOT, '.semgrep', 'tests')], {
      encoding: 'utf8',
      env: OFFLINE,
    });
    const output = `${run.stdout}\n${run.stderr}`;
    expect(output).toMatch(/(\d+)\/\1: ✓ All tests passed/);
    expect(run.status).toBe(0);
    // Every rule file has its test cases.
    const rules = fs.readdirSync(path.join(ROOT, '.semgrep', 'rules')).filter((f) => f.endsWith('.yml'));
    expect(rules.length).toBeGreaterThanOrEqual(7);
    for (const rule of rules) expect(fs.existsSync(path.join(ROOT, '.semgrep', 'tests', rule.replace(/\.yml$/, '.ts')))).toBe(true);
  }, 120_000);

  it('every nosemgrep in the tree gives a reason and is listed in security/accepted-findings.md', () => {
    const tracked = execFileSync('git', ['ls-files', '--', '*.ts', '*.js'], { cwd: ROOT, encoding: 'utf8' })
      .split('\n')
      .filter((f) => f && !f.startsWith('.semgrep/') && fs.existsSync(path.join(ROOT, f)));
    const accepted = fs.readFileSync(path.join(ROOT, 'security', 'accepted-findings.md'), 'utf8');
    const suppressions: string[] = [];
    for (const file of tracked) {
      for (const line of fs.readFileSync(path.join(ROOT, file), 'utf8').split('\n')) {
        const marker = line.match(/nosemgrep(?::\s*([\w.-]+))?(?:\s+--\s+(.*))?/);
        // This file's own pattern and prose mention the word; only comments that suppress count.
        if (!marker || !/^\s*\/\/\s*nosemgrep/.test(line)) continue;
        expect({ file, rule: marker[1] ?? '(none)', reason: (marker[2] ?? '').length >= 10 }).toEqual({ file, rule: expect.stringMatching(/^gateway\./), reason: true });
        expect(accepted).toContain(`| ${marker[1]} | ${file}`);
        suppressions.push(`${file}: ${marker[1]}`);
      }
    }
    expect(suppressions.length).toBeGreaterThan(0);
  });

  it('fail the scan on a bad snippet planted in a temp dir, and pass it clean', () => {
    const dir = tempDir('semgrep-planted-');
    fs.writeFileSync(
      path.join(dir, 'handler.ts'),
      [
        "import { exec } from 'node:child_process';",
        'export function handle(req: { body: { card: { cvc: string } }; query: { dir: string } }) {',
        '  console.log(req.body);',
        '  exec(`ls ${req.query.dir}`);',
        '  return eval(req.query.dir);',
        '}',
        '',
      ].join('\n'),
    );
    const bad = semgrepScan(dir);
    expect(bad.status).toBe(1);
    const found = (JSON.parse(bad.stdout) as { results: { check_id: string }[] }).results.map((r) => r.check_id.split('.').slice(-2).join('.'));
    expect(found).toEqual(expect.arrayContaining(['gateway.log-of-request-body', 'gateway.child-process-shell-string', 'gateway.no-eval']));

    fs.writeFileSync(path.join(dir, 'handler.ts'), "export const handle = (req: { query: { dir: string } }) => req.query.dir.length;\n");
    const clean = semgrepScan(dir);
    expect(JSON.parse(clean.stdout).results).toEqual([]);
    expect(clean.status).toBe(0);
  }, 120_000);
});

describe('npm run security:scan (.ci/security-scan.sh all)', () => {
  it('runs every scan even after one fails, and fails naming the scan that found something', () => {
    const repo = scratchRepo();
    fs.cpSync(path.join(ROOT, '.semgrep', 'rules'), path.join(repo, '.semgrep', 'rules'), { recursive: true });
    fs.copyFileSync(path.join(ROOT, '.semgrepignore'), path.join(repo, '.semgrepignore'));
    fs.copyFileSync(path.join(ROOT, '.ci', 'install-semgrep.sh'), path.join(repo, '.ci', 'install-semgrep.sh'));
    fs.cpSync(path.join(ROOT, '.ci', 'lib'), path.join(repo, '.ci', 'lib'), { recursive: true });
    // The audit step runs the built CLI, which audits this project (the link resolves to it).
    fs.symlinkSync(path.join(ROOT, 'dist'), path.join(repo, 'dist'));
    fs.writeFileSync(path.join(repo, 'handler.ts'), 'export const run = (code: string) => eval(code);\n');
    git(repo, 'add', '.');
    git(repo, 'commit', '-q', '-m', 'a handler');

    const run = spawnSync('bash', [path.join(repo, '.ci', 'security-scan.sh'), 'all'], {
      cwd: repo,
      encoding: 'utf8',
      env: { ...OFFLINE, NPM_AUDIT_IF_UNREACHABLE: 'warn' },
    });
    const output = `${run.stdout}${run.stderr}`;
    expect(output).toContain('gateway.no-eval');
    expect(output).toContain('gitleaks: git history'); // the secret scan still ran after semgrep failed
    expect(output).toMatch(/security scan: FAILED: semgrep$/m);
    expect(run.status).toBe(1);
  }, 300_000);
});

describe('secret scan (.ci/security-scan.sh secrets: gitleaks with .gitleaks.toml)', () => {
  it('passes a clean repository, and fails on a secret in a new, not yet committed file', () => {
    const repo = scratchRepo();
    const clean = secretScan(repo);
    expect(clean.stdout).toContain('no leaks');
    expect(clean.status).toBe(0);

    fs.writeFileSync(path.join(repo, 'deploy-key.pem'), freshSecrets().pem);
    const dirty = secretScan(repo);
    expect(dirty.status).toBe(1);
    expect(`${dirty.stdout}${dirty.stderr}`).toMatch(/private-key/);
  }, 120_000);

  it('fails on a secret that was committed and then deleted: the history is scanned, not only the tree', () => {
    const repo = scratchRepo();
    fs.writeFileSync(path.join(repo, 'ci.env'), `GITHUB_TOKEN=${freshSecrets().githubToken}\n`);
    git(repo, 'add', 'ci.env');
    git(repo, 'commit', '-q', '-m', 'add ci env');
    git(repo, 'rm', '-q', 'ci.env');
    git(repo, 'commit', '-q', '-m', 'remove it again');
    expect(fs.existsSync(path.join(repo, 'ci.env'))).toBe(false);

    const run = secretScan(repo);
    const output = `${run.stdout}${run.stderr}`;
    expect(output).toContain('gitleaks: working tree'); // the tree passed...
    expect(output).toMatch(/github-pat/); // ...the history did not
    expect(run.status).toBe(1);
  }, 120_000);

  it('does not report a git-ignored file (a developer\'s local keys are not in the tree git would commit)', () => {
    const repo = scratchRepo();
    fs.mkdirSync(path.join(repo, 'local-keys'));
    fs.writeFileSync(path.join(repo, 'local-keys', 'dev.pem'), freshSecrets().pem);
    const run = secretScan(repo);
    expect(run.status).toBe(0);
    // The same file, scanned directly, is a finding: the config does not simply miss it.
    const direct = spawnSync(GITLEAKS, ['dir', '--config', path.join(ROOT, '.gitleaks.toml'), '--no-banner', '--redact', path.join(repo, 'local-keys')], { encoding: 'utf8' });
    expect(direct.status).toBe(1);
  }, 120_000);

  it('allow-lists vault tokens only inside recorded replay histories', () => {
    const repo = scratchRepo();
    const token = `tok_${randomBytes(16).toString('base64url').slice(0, 22)}`;
    const payload = Buffer.from(JSON.stringify({ storedCard: { token } })).toString('base64');
    const history = JSON.stringify({ events: [{ payloads: [{ data: payload }] }] }, null, 2);
    fs.mkdirSync(path.join(repo, 'test', 'replay', 'histories'), { recursive: true });
    fs.writeFileSync(path.join(repo, 'test', 'replay', 'histories', 'one.json'), history);
    expect(secretScan(repo).status).toBe(0);

    fs.mkdirSync(path.join(repo, 'src'));
    fs.writeFileSync(path.join(repo, 'src', 'payload.json'), history);
    const elsewhere = secretScan(repo);
    expect(`${elsewhere.stdout}${elsewhere.stderr}`).toMatch(/generic-api-key/);
    expect(elsewhere.status).toBe(1);
  }, 120_000);
});
