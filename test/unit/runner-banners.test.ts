import { withoutBanners } from '../helpers/runner-banners';

describe('withoutBanners', () => {
  // Built from parts so this file holds no pytest closing line of its own.
  const rule = '='.repeat(29);
  const closing = `${rule} 2 warnings in 46.51s ${rule}`;

  it('turns a pytest-style closing banner into its words, keeping the indentation', () => {
    expect(withoutBanners(`  Seed: 1\n  \n  ${closing}\n`)).toBe('  Seed: 1\n  \n  [2 warnings in 46.51s]\n');
  });

  it('turns the SUMMARY banner and leaves every other line as it was', () => {
    const report = `${'='.repeat(35)} SUMMARY ${'='.repeat(36)}\nTest cases:\n  1649 generated, 1649 passed, 26 skipped\n`;
    expect(withoutBanners(report)).toBe('[SUMMARY]\nTest cases:\n  1649 generated, 1649 passed, 26 skipped\n');
  });

  it('leaves no line a pytest closing-line reader would take', () => {
    const pytestClosing = /^\s*=+ .*\bin [\d.]+s\b.* =+\s*$/m;
    expect(closing).toMatch(pytestClosing);
    expect(withoutBanners(closing)).not.toMatch(pytestClosing);
  });
});
