// Test cases for ../rules/express.yml (semgrep --test). Bad on purpose; not scanned as code.
import express from 'express';
import * as path from 'node:path';
import { z } from 'zod';
declare const db: { query(sql: string, params?: unknown[]): Promise<unknown> };
const app = express();
const schema = z.object({ next: z.enum(['/home']) });

app.get('/go', (req, res) => {
  // ruleid: gateway.express-tainted-sink
  res.redirect(req.query.next as string);
});
app.get('/file/:name', (req, res) => {
  // ruleid: gateway.express-tainted-sink
  res.sendFile(path.join('/srv', req.params.name));
});
app.get('/search', async (req, res) => {
  // ruleid: gateway.express-tainted-sink, gateway.sql-built-from-string
  await db.query('SELECT * FROM payments WHERE last4 = ' + req.query.last4);
  res.json({});
});
app.get('/ok', (req, res) => {
  const parsed = schema.parse(req.query);
  // ok: gateway.express-tainted-sink
  res.redirect(parsed.next);
});

async function sql(merchant: string, ids: string[]) {
  // ruleid: gateway.sql-built-from-string
  await db.query(`SELECT * FROM payments WHERE merchant = '${merchant}'`);
  const COLUMNS = 'id, amount';
  // ok: gateway.sql-built-from-string
  await db.query(`SELECT ${COLUMNS} FROM payments WHERE merchant = $1`, [merchant]);
  const placeholders = ids.map((_, i) => `$${i + 1}`).join(', ');
  // ok: gateway.sql-built-from-string
  await db.query(`SELECT * FROM payments WHERE id IN (${placeholders})`, ids);
}

app.use((req, res, next) => {
  // ruleid: gateway.cors-reflects-any-origin
  res.set('Access-Control-Allow-Origin', '*');
  next();
});
app.use((req, res, next) => {
  const origin = req.get('origin');
  // ruleid: gateway.cors-reflects-any-origin
  res.set({ 'Access-Control-Allow-Origin': origin, 'Access-Control-Allow-Credentials': 'true' });
  next();
});

declare const zip: { extractAllTo(dir: string): void };
// ruleid: gateway.zip-extract-all
zip.extractAllTo('/tmp/x');
export { sql };
