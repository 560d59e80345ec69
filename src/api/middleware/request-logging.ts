import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pinoHttp } from 'pino-http';
import type { LevelWithSilent } from 'pino';
import type { Logger } from '../../logging/logger';

const INCOMING_ID = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * One log line per request, and a request id in every line logged while handling it: the caller's
 * `X-Request-Id` when it is sane, a fresh UUID otherwise, echoed in the response header. The query
 * string is not logged (merchants have been known to put anything in it); bodies never are.
 */
export function requestLogging(logger: Logger) {
  /** Responses that emitted 'finish'. */
  const finished = new WeakSet<ServerResponse>();
  const log = pinoHttp({
    logger,
    genReqId(req: IncomingMessage, res: ServerResponse) {
      const incoming = req.headers['x-request-id'];
      const id = typeof incoming === 'string' && INCOMING_ID.test(incoming) ? incoming : randomUUID();
      res.setHeader('X-Request-Id', id);
      return id;
    },
    // `requestId` on every line logged through req.log, not buried in the req object.
    quietReqLogger: true,
    customAttributeKeys: { reqId: 'requestId' },
    wrapSerializers: false,
    serializers: {
      req: (req: IncomingMessage) => ({ method: req.method, path: (req.url ?? '').split('?')[0] }),
      res: (res: ServerResponse) => ({ status: res.statusCode }),
    },
    // pino-http's own message calls a response "aborted" unless res.writableEnded is set when it
    // logs. Behind serverless-http (src/api/lambda.ts) 'finish' fires inside res.end(), before
    // Node sets writableEnded (its fake socket writes synchronously), so every Lambda request was
    // logged "request aborted" (seen under the emulator, docs/lambda.md). 'finish' itself means the
    // whole response was handed over, so it counts as completed too.
    customSuccessMessage: (req, res) => (!req.readableAborted && (res.writableEnded || finished.has(res)) ? 'request completed' : 'request aborted'),
    customLogLevel: (_req, res, err): LevelWithSilent => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
    // Health probes every few seconds would drown the rest.
    autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' || req.url === '/metrics' },
  });
  return (req: IncomingMessage, res: ServerResponse, next: () => void) => {
    // Registered before pino-http's own listener, so it is set when that one logs.
    res.once('finish', () => finished.add(res));
    log(req, res, next);
  };
}
