import * as grpc from '@grpc/grpc-js';
import { defaultGrpcRetryOptions, makeGrpcRetryInterceptor, type Client } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import type { Env } from '../../config/env';
import type { Logger } from '../../logging/logger';
import { createLazyClient } from '../../temporal/connection';
import { currentInvocation } from './invocation';

/** No call to Temporal takes longer than this (nor past the invocation's end): a stale channel fails fast. */
export const TEMPORAL_CALL_DEADLINE_MS = 5_000;
/** A container idle this long may have been frozen: its channel is probed before it is used. */
export const FROZEN_AFTER_MS = 10_000;
const PROBE_DEADLINE_MS = 1_000;

/**
 * The Temporal client of a Lambda container: one connection, made once and kept across
 * invocations, that survives Lambda freezing the container between them.
 *
 * While frozen, the container answers no keepalive ping; the server or a NAT on the way may drop
 * the TCP connection without grpc-js knowing, and the next call would wait on a dead socket. So:
 * - every call carries a deadline (TEMPORAL_CALL_DEADLINE_MS, and never past the invocation's end);
 * - after an idle gap long enough to have been a freeze, the first invocation probes the channel
 *   (GetSystemInfo, 1 s) and, if that fails, replaces the connection before serving.
 * The services are given `client`, which always forwards to the live connection's client.
 */
export class LambdaTemporal {
  private live: Client;
  private lastUsed = Date.now();
  private opened = 0;

  /** Forwards every property to the client of the live connection (a reconnect swaps it). */
  readonly client: Client;

  constructor(
    private readonly env: Env,
    private readonly dataConverter: DataConverter,
    private readonly logger: Logger,
  ) {
    this.live = this.open();
    const live = () => this.live;
    this.client = new Proxy({} as Client, {
      get(_target, property) {
        const client = live();
        const value: unknown = Reflect.get(client, property, client);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(client) : value;
      },
    });
  }

  /** Connections this container has made (each dials on its first call): 1 unless a stale one was replaced. */
  get connectionsOpened(): number {
    return this.opened;
  }

  /** Called as an invocation starts: after a possible freeze, checks the channel and reconnects if it is dead. */
  async freshen(): Promise<void> {
    const idle = Date.now() - this.lastUsed;
    if (idle < FROZEN_AFTER_MS) return;
    const { connection } = this.live;
    try {
      await connection.withDeadline(Date.now() + PROBE_DEADLINE_MS, () => connection.workflowService.getSystemInfo({}));
    } catch (err) {
      this.logger.warn({ idleMs: idle, err: (err as Error).message }, 'Temporal channel stale after the container was idle: reconnecting');
      this.live = this.open();
      void connection.close().catch(() => undefined);
    }
  }

  /** Marks the end of an invocation (the idle gap is measured from here). */
  done(): void {
    this.lastUsed = Date.now();
  }

  async close(): Promise<void> {
    await this.live.connection.close();
  }

  private open(): Client {
    this.opened += 1;
    return createLazyClient(this.env, this.dataConverter, { interceptors: [callDeadline, makeGrpcRetryInterceptor(defaultGrpcRetryOptions())] });
  }
}

/** Gives a call without a deadline one: TEMPORAL_CALL_DEADLINE_MS, cut to the invocation's end. */
const callDeadline: grpc.Interceptor = (options, nextCall) => {
  const given = options.deadline === undefined ? Infinity : options.deadline instanceof Date ? options.deadline.getTime() : options.deadline;
  if (given === Infinity) {
    const invocation = currentInvocation();
    const bound = Date.now() + TEMPORAL_CALL_DEADLINE_MS;
    options = { ...options, deadline: invocation ? Math.min(bound, invocation.deadline) : bound };
  }
  return new grpc.InterceptingCall(nextCall(options));
};
