import * as grpc from '@grpc/grpc-js';
import { Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor, type ConnectionOptions } from '@temporalio/client';

/**
 * A Temporal client connection that can be closed while a call is waiting to retry.
 *
 * The SDK's retry interceptor (1.24) waits out a backoff with a bare `setTimeout` and then
 * opens the next attempt on the channel. If the connection was closed meanwhile, grpc-js throws
 * "Channel has been shut down" from that timer: an uncaught exception, which kills a process that
 * is shutting down cleanly (and failed CI's payment-model suite after all its tests had passed).
 * The gate sits between the retry interceptor and the channel: once the connection is closing,
 * an attempt ends at once with CANCELLED instead of touching the channel, so the pending call
 * rejects like any cancelled call and nothing is thrown from a timer.
 */
class CloseGate {
  private closing = false;

  interceptors(custom: grpc.Interceptor[] | undefined): grpc.Interceptor[] {
    return [...(custom ?? [makeGrpcRetryInterceptor(defaultGrpcRetryOptions())]), this.gate];
  }

  guard(connection: Connection): Connection {
    const close = connection.close.bind(connection);
    connection.close = async () => {
      this.closing = true;
      await close();
    };
    return connection;
  }

  private readonly gate: grpc.Interceptor = (options, nextCall) => new grpc.InterceptingCall(this.closing ? closedCall() : nextCall(options));
}

type CallInterface = ReturnType<grpc.NextCall>;

/** An attempt on a closing connection: it ends with CANCELLED as soon as it starts. */
function closedCall(): CallInterface {
  return {
    start(_metadata, listener) {
      setImmediate(() => listener?.onReceiveStatus?.({ code: grpc.status.CANCELLED, details: 'Temporal connection closed', metadata: new grpc.Metadata() }));
    },
    sendMessage() {},
    sendMessageWithContext() {},
    startRead() {},
    halfClose() {},
    cancelWithStatus() {},
    getPeer: () => '',
    getAuthContext: () => null,
  };
}

/** `Connection.connect`, closable while a call is in retry backoff. */
export async function connectCloseSafe(options: ConnectionOptions): Promise<Connection> {
  const gate = new CloseGate();
  return gate.guard(await Connection.connect({ ...options, interceptors: gate.interceptors(options.interceptors) }));
}

/** `Connection.lazy`, closable while a call is in retry backoff. */
export function lazyCloseSafe(options: ConnectionOptions): Connection {
  const gate = new CloseGate();
  return gate.guard(Connection.lazy({ ...options, interceptors: gate.interceptors(options.interceptors) }));
}
