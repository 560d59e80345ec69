import fs from 'node:fs';
import path from 'node:path';

/**
 * docs/pci-dss.md maps each PCI DSS requirement to its control and the test that proves it: every
 * path it names must exist, it must cite at least ten test files, and each requirement the
 * security issue lists must have a row.
 */
const ROOT = path.join(__dirname, '..', '..');
const map = fs.readFileSync(path.join(ROOT, 'docs', 'pci-dss.md'), 'utf8');
const paths = [...new Set([...map.matchAll(/`((?:src|test|docs|deploy|security|\.ci|\.semgrep)\/[^`\s]+|\.gitleaks\.toml)`/g)].map((m) => m[1]!))];

describe('PCI DSS control map (docs/pci-dss.md)', () => {
  it('names only paths that exist', () => {
    expect(paths.filter((p) => !fs.existsSync(path.join(ROOT, p)))).toEqual([]);
  });

  it('cites at least ten test files', () => {
    expect(paths.filter((p) => /^test\/.*\.test\.ts$/.test(p)).length).toBeGreaterThanOrEqual(10);
  });

  it('has a row for each requirement the security issue lists', () => {
    for (const requirement of ['3.2.1', '3.3.1.2', '3.4.1', '3.5.1', '3.6.1', '3.7.x', '4.2.1', '6.2.4', '6.3.3', '7.2', '8.3', '10.2', '10.3', '11.3']) {
      expect(map).toContain(`| **${requirement}** |`);
    }
  });
});
