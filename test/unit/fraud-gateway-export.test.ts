import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FraudChecker } from '../../src/fraud/fraud-checker';
import { FraudStore } from '../../src/fraud/fraud-store';
import { FraudModel, defaultModelFile } from '../../src/fraud/model';
import { readTransactions } from '../../src/fraud/replay';
import { fraudRulesConfig } from '../../src/fraud/rules';
import { openDb } from '../../src/storage/open-db';
import { ROOT } from '../helpers/processes';

/**
 * `npm run fraud:train -- --from-gateway` starts by exporting the gateway's own scored payments and
 * fraud reports in the shared format (src/cli/fraud-gateway-export.ts): every scored payment once, in
 * time order, labelled 1 when it was reported, readable by the same replay the trainer's export uses.
 */
describe('fraud-gateway-export', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fraud-gateway-export-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("exports the gateway's scored payments with their reports as labels", async () => {
    const db = await openDb({ dataDir: dir });
    let clock = Date.parse('2030-03-01T08:00:00Z');
    const checker = new FraudChecker(new FraudStore(db), { rules: fraudRulesConfig({ sandboxRules: false }), model: FraudModel.load(defaultModelFile()), now: () => clock });
    for (let i = 0; i < 25; i++) {
      // Two payments in the same millisecond now and then: the export's cursor must keep both.
      if (i % 5 !== 0) clock += 60_000;
      await checker.check({ paymentId: `pay_${String(i).padStart(3, '0')}`, merchantId: `m_${i % 3}`, amount: 1000 + i, currency: 'USD', card: { fingerprint: `fp_${i % 4}`, bin: '400001', last4: '0000', brand: 'visa' }, cardToken: `tok_${i % 4}` });
    }
    for (const id of ['pay_003', 'pay_017']) await checker.report({ paymentId: id, reportedBy: 'operator:test' });
    await db.close();

    const output = path.join(dir, 'gateway.csv');
    const result = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli', 'fraud-gateway-export.js'), '--output', output], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, DATA_DIR: dir, DATABASE_URL: '' },
    });
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: expect.stringContaining('25 payments, 2 reported as fraud') });
    const rows = [];
    for await (const row of readTransactions(output)) rows.push(row);
    expect(rows).toHaveLength(25);
    expect(rows.filter((r) => r.fraud === 1).map((r) => r.amountMinor)).toEqual([1003, 1017]);
    expect(new Set(rows.map((r) => r.customer)).size).toBe(4);
    expect(rows.every((r) => r.customer.startsWith('ck_') && !r.customer.includes('tok_'))).toBe(true);
  });
});
