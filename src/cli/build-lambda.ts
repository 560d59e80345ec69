/**
 * `npm run build:lambda`: the API's Lambda function as one bundled file (esbuild) and its zip.
 *
 * dist/lambda/ holds handler.js (src/api/lambda.ts and everything it imports, minified), the
 * failure converter the Temporal client loads by path, the two Swagger UI files /docs serves, and
 * a package.json with the name and version /openapi.json reports, and the RDS certificate
 * authorities (src/storage/rds-ca-bundle.ts). Native modules stay out:
 * better-sqlite3 (the function uses PostgreSQL in AWS; SQLite is refused there) and pg-native.
 * dist/lambda.zip is what `sam build`/`sam deploy` upload (deploy/aws/template.yaml).
 */
import fs from 'node:fs';
import path from 'node:path';
import AdmZip from 'adm-zip';
import { build } from 'esbuild';
import { RDS_CA_BUNDLE_FILE, rdsCaBundlePem } from '../storage/rds-ca-bundle';

const ROOT = path.resolve(__dirname, '..', '..');
const OUT = path.join(ROOT, 'dist', 'lambda');

async function main(): Promise<void> {
  fs.rmSync(OUT, { recursive: true, force: true });
  await build({
    entryPoints: { handler: path.join(ROOT, 'src/api/lambda.ts'), 'failure-converter': path.join(ROOT, 'src/temporal/failure-converter.ts') },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: true,
    sourcemap: 'external',
    outdir: OUT,
    external: ['better-sqlite3', 'pg-native', 'swagger-ui-dist'],
    logLevel: 'error',
  });
  const swagger = path.join(OUT, 'node_modules', 'swagger-ui-dist');
  fs.mkdirSync(swagger, { recursive: true });
  const source = path.dirname(require.resolve('swagger-ui-dist/package.json'));
  for (const file of ['package.json', 'swagger-ui-bundle.js', 'swagger-ui.css']) fs.copyFileSync(path.join(source, file), path.join(swagger, file));
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; description?: string };
  // NODE_EXTRA_CA_CERTS=/var/task/rds-ca-bundle.pem (deploy/aws/template.yaml): the database's certificate is checked.
  fs.writeFileSync(path.join(OUT, RDS_CA_BUNDLE_FILE), rdsCaBundlePem());
  fs.writeFileSync(path.join(OUT, 'package.json'), `${JSON.stringify({ name: pkg.name, version: pkg.version, description: pkg.description, private: true })}\n`);

  const zip = new AdmZip();
  for (const file of listFiles(OUT)) if (!file.endsWith('.map')) zip.addLocalFile(path.join(OUT, file), path.dirname(file) === '.' ? '' : path.dirname(file));
  const zipFile = path.join(ROOT, 'dist', 'lambda.zip');
  zip.writeZip(zipFile);
  console.log(`dist/lambda/handler.js ${(fs.statSync(path.join(OUT, 'handler.js')).size / 1e6).toFixed(2)} MB; dist/lambda.zip ${(fs.statSync(zipFile).size / 1e6).toFixed(2)} MB`);
}

function listFiles(dir: string, prefix = ''): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listFiles(path.join(dir, e.name), path.join(prefix, e.name)) : [path.join(prefix, e.name)]));
}

main().catch((err: Error) => {
  console.error(`build:lambda failed: ${err.message}`);
  process.exit(1);
});
