/**
 * `npm run lambda:local`: the built Lambda function (dist/lambda/handler.js) run as Lambda runs it,
 * under the runtime interface emulator (aws-lambda-rie) and client (aws-lambda-ric) that
 * .ci/install-lambda-rie.sh puts in .tools/. The emulator serves Lambda's Invoke API on
 * LAMBDA_LOCAL_PORT (default 9000) and starts the client, which loads the handler through the
 * Runtime API and passes it each invocation, as Lambda's nodejs20.x runtime does (docs/lambda.md).
 *
 * The client runs in the project root with this process's environment, so with `npm start`'s
 * defaults the handler finds data/ (keys, SQLite) and Temporal on 127.0.0.1:7233, the stack
 * `npm start` runs beside it.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { z } from 'zod';

const ROOT = path.resolve(__dirname, '..', '..');
const RIE = path.join(ROOT, '.tools', 'lambda-rie', 'bin', 'aws-lambda-rie');
const RIC = path.join(ROOT, '.tools', 'lambda-ric', 'node_modules', '.bin', 'aws-lambda-ric');
/** Lambda's handler setting: dist/lambda/handler.js, its export `handler`, relative to the task root (cwd). */
const HANDLER = 'dist/lambda/handler.handler';

const port = z.coerce.number().int().min(1).max(65_535);
const Options = z.object({
  /** Where the emulator accepts invocations (its --runtime-interface-emulator-address; its own default 8080 is often taken). */
  LAMBDA_LOCAL_PORT: port.default(9000),
  /** The Runtime API the client talks to; unset: a free port (the emulator's fixed default 9001 would clash between two runs). */
  LAMBDA_LOCAL_RUNTIME_API_PORT: port.optional(),
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port: free } = server.address() as net.AddressInfo;
      server.close(() => resolve(free));
    });
  });
}

function fail(message: string): never {
  console.error(`lambda:local: ${message}`);
  process.exit(1);
}

async function main(): Promise<void> {
  const parsed = Options.safeParse(process.env);
  if (!parsed.success) fail(`invalid configuration: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
  for (const [what, file] of [['the emulator (aws-lambda-rie)', RIE], ['the runtime interface client (aws-lambda-ric)', RIC]] as const) {
    if (!fs.existsSync(file)) fail(`${what} is not installed at ${path.relative(ROOT, file)}: run .ci/install-lambda-rie.sh`);
  }
  if (!fs.existsSync(path.join(ROOT, 'dist', 'lambda', 'handler.js'))) fail('dist/lambda/handler.js is not built: run npm run build:lambda');

  const invokePort = parsed.data.LAMBDA_LOCAL_PORT;
  const runtimeApiPort = parsed.data.LAMBDA_LOCAL_RUNTIME_API_PORT ?? (await freePort());
  const rie = spawn(RIE, ['--runtime-interface-emulator-address', `127.0.0.1:${invokePort}`, '--runtime-api-address', `127.0.0.1:${runtimeApiPort}`, RIC, HANDLER], {
    cwd: ROOT,
    env: process.env,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  // The emulator runs the client in a process group of its own and ends it when it is stopped.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => rie.kill(signal));
  rie.once('error', (err) => fail(`could not start the emulator: ${err.message}`));
  rie.once('exit', (code, signal) => process.exit(code ?? (signal === 'SIGTERM' || signal === 'SIGINT' ? 0 : 1)));
  // The emulator takes a moment to listen (longer on a loaded machine): announce it only once an
  // invocation would be accepted, so whoever waits for this line never meets a refused connection.
  if (!(await accepting(invokePort, 30_000))) fail(`the emulator did not listen on 127.0.0.1:${invokePort} within 30 s`);
  console.log(
    [
      `lambda:local: the emulator serves ${HANDLER} on 127.0.0.1:${invokePort} (Runtime API on 127.0.0.1:${runtimeApiPort}). Invoke it with an API Gateway HTTP API 2.0 event:`,
      `  curl -s http://127.0.0.1:${invokePort}/2015-03-31/functions/function/invocations -d '{"version":"2.0","routeKey":"$default","rawPath":"/healthz","rawQueryString":"","headers":{},"requestContext":{"http":{"method":"GET","path":"/healthz","sourceIp":"127.0.0.1"}},"isBase64Encoded":false}'`,
    ].join('\n'),
  );

}

/** Whether 127.0.0.1:port accepts a TCP connection within `withinMs` (tried every 50 ms). */
async function accepting(port: number, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    const connected = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (connected) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

void main();
