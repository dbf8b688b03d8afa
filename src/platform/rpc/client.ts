import {
  bulkhead,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  handleWhen,
  type IPolicy,
  isBrokenCircuitError,
  isBulkheadRejectedError,
  retry,
  TimeoutStrategy,
  timeout,
  wrap,
} from 'cockatiel';
import { Pool } from 'undici';
import type { CallContext } from '../context.ts';
import type { InstanceSource } from '../discovery/instances.ts';
import { type AppError, isAppError, platformErrors } from '../errors.ts';
import type { MethodNames } from '../in-process.ts';
import type { Logger } from '../log.ts';
import { IDENTITY_HEADER, type InternalAuth } from './identity.ts';
import { rpcPath } from './server.ts';
import { type Answer, asTransportFailure, isTransportFailure, readAnswer } from './transport.ts';

export interface RpcClientOptions<Api> {
  /** The module called, as its routes are mounted: `/internal/<module>/<method>`. */
  readonly module: string;
  readonly methods: MethodNames<Api>;
  /** The methods retried after a transport failure; every other method is tried once. */
  readonly idempotent: MethodNames<Api>;
  readonly instances: InstanceSource;
  readonly auth: InternalAuth;
  readonly log: Logger;
  /** Per attempt; 5 s by default. */
  readonly timeoutMs?: number;
  /** Attempts after the first, for idempotent methods; 2 by default. */
  readonly retries?: number;
  /** Exponential backoff with jitter between attempts; 100 ms growing to 2 s by default. */
  readonly backoff?: { readonly initialDelayMs: number; readonly maxDelayMs: number };
  /** Opens after `threshold` consecutive failures, tries again after `halfOpenAfterMs`; 5 and 10 s by default. */
  readonly breaker?: { readonly threshold: number; readonly halfOpenAfterMs: number };
  /** Calls in flight, and calls waiting for a slot, to this module; 64 and 512 by default. */
  readonly bulkhead?: { readonly limit: number; readonly queue: number };
  /** Keep-alive connections per instance; 32 by default. */
  readonly connections?: number;
}

export type BreakerState = 'closed' | 'open' | 'half-open';

/** A module's contract over HTTP, with the resilience of one downstream shared by all its methods. */
export interface RpcClient<Api> {
  readonly api: Api;
  /** `half-open` once the open delay has passed, even before a trial call has run. */
  breakerState(): BreakerState;
  /** For health checks: rejects while the breaker is open. */
  check(): Promise<void>;
  /** Closes every connection, letting calls in flight finish. */
  close(): Promise<void>;
}

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** An AppError of 5xx is the module failing; 503 and 504 report a dependency of it, behind its own breaker. */
const isModuleFault = (error: AppError) =>
  error.status >= 500 && error.status !== 503 && error.status !== 504;

/**
 * Calls a module hosted in another process, so that a caller cannot tell which transport ran: the
 * module's AppErrors come back as the same AppErrors; failures of the transport become
 * `SERVICE_UNAVAILABLE` (503) or `TIMEOUT` (504). Each attempt has a cooperative timeout that aborts
 * its request; idempotent methods are retried, on the next instance, after transport failures only;
 * one circuit breaker counts calls that failed (after their retries) by the transport or a module
 * fault, never domain answers; a bulkhead bounds the calls in flight.
 */
export function createRpcClient<Api extends object>(options: RpcClientOptions<Api>): RpcClient<Api> {
  const { module, auth, log, instances } = options;
  const timeoutMs = options.timeoutMs ?? 5_000;
  const halfOpenAfterMs = options.breaker?.halfOpenAfterMs ?? 10_000;
  const connections = options.connections ?? 32;
  const pools = new Map<string, Pool>();
  let cursor = 0;
  let known: readonly string[] = [];
  let openedAt = 0;
  let closed = false;

  const limiter = bulkhead(options.bulkhead?.limit ?? 64, options.bulkhead?.queue ?? 512);
  const breaker = circuitBreaker(
    handleWhen((error) => isTransportFailure(error) || (isAppError(error) && isModuleFault(error))),
    {
      halfOpenAfter: halfOpenAfterMs,
      breaker: new ConsecutiveBreaker(options.breaker?.threshold ?? 5),
    },
  );
  const retrier = retry(handleWhen(isTransportFailure), {
    maxAttempts: options.retries ?? 2,
    backoff: new ExponentialBackoff({
      initialDelay: options.backoff?.initialDelayMs ?? 100,
      maxDelay: options.backoff?.maxDelayMs ?? 2_000,
    }),
  });
  const deadline = timeout(timeoutMs, TimeoutStrategy.Cooperative);
  // One set of policies for this downstream; only the retry differs between the two kinds of method.
  // The breaker counts calls, not attempts: a call that failed on a dead instance and succeeded on the
  // next one is a success, so one instance down out of several does not cut the caller off all of them.
  const policies: Record<'retried' | 'once', IPolicy> = {
    retried: wrap(limiter, breaker, retrier, deadline),
    once: wrap(limiter, breaker, deadline),
  };
  const idempotent = new Set<string>(options.idempotent);

  breaker.onBreak((reason) => {
    openedAt = Date.now();
    const error = 'error' in reason ? reason.error : undefined;
    log.warn({ module, err: error }, 'circuit breaker opened');
  });
  retrier.onRetry(({ attempt, delay }) => log.info({ module, attempt, delay }, 'retrying an internal call'));
  breaker.onHalfOpen(() => log.info({ module }, 'circuit breaker half-open: trying a call'));
  breaker.onReset(() => log.info({ module }, 'circuit breaker closed'));

  /** Closes the pools of instances the source no longer lists, when a registry changes the list. */
  function forget(list: readonly string[]): void {
    if (list === known) return;
    known = list;
    const current = new Set(list.map((base) => new URL(base).origin));
    for (const [origin, pool] of pools) {
      if (current.has(origin)) continue;
      pools.delete(origin);
      void pool.close().catch((err) => log.warn({ module, origin, err }, 'closing a pool failed'));
    }
  }

  function poolFor(base: string): Pool {
    const origin = new URL(base).origin;
    let pool = pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, { connections, pipelining: 1 });
      pools.set(origin, pool);
    }
    return pool;
  }

  async function attempt(
    base: string,
    method: string,
    headers: Record<string, string>,
    body: string,
    signal: AbortSignal,
  ) {
    const target = `${module}.${method} at ${base}`;
    let answer: Answer;
    try {
      const response = await poolFor(base).request({
        path: rpcPath(module, method),
        method: 'POST',
        headers,
        body,
        signal,
      });
      const text = await response.body.text();
      const type = response.headers['content-type'];
      answer = readAnswer(response.statusCode, typeof type === 'string' ? type : undefined, text, target);
    } catch (error) {
      if (isTransportFailure(error)) throw error;
      throw asTransportFailure(error, signal.aborted, target) ?? error;
    }
    // A fault of the module counts against its breaker; a domain answer is an answer, not a failure.
    if (!answer.ok && isModuleFault(answer.error)) throw answer.error;
    return answer;
  }

  async function call(method: string, ctx: CallContext, args: unknown[]): Promise<unknown> {
    if (closed) throw platformErrors.SERVICE_UNAVAILABLE(`The client of ${module} is closed`);
    const list = instances.list();
    if (list.length === 0) throw platformErrors.SERVICE_UNAVAILABLE(`${module} has no instance`);
    forget(list);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      [IDENTITY_HEADER]: auth.sign(ctx.actor),
      // The callee logs under the caller's request id, when it is one the edge would accept.
      ...(SANE_REQUEST_ID.test(ctx.requestId) ? { 'x-request-id': ctx.requestId } : {}),
      ...(ctx.traceparent ? { traceparent: ctx.traceparent } : {}),
    };
    const body = JSON.stringify({ args });
    // Round robin across calls; a retry of this call moves on to the next instance.
    const start = cursor++;
    let tries = 0;
    let answer: Answer;
    try {
      answer = (await policies[idempotent.has(method) ? 'retried' : 'once'].execute(({ signal }) =>
        attempt(list[(start + tries++) % list.length]!, method, headers, body, signal),
      )) as Answer;
    } catch (error) {
      throw translate(error, method);
    }
    if (!answer.ok) throw answer.error;
    return answer.result;
  }

  function translate(error: unknown, method: string): unknown {
    if (isBrokenCircuitError(error)) {
      return platformErrors.SERVICE_UNAVAILABLE(`${module} is unavailable: its circuit breaker is open`);
    }
    if (isBulkheadRejectedError(error)) {
      return platformErrors.SERVICE_UNAVAILABLE(`${module} has too many calls in flight`);
    }
    if (isTransportFailure(error)) {
      log.warn({ module, method, err: error }, 'internal call failed');
      return error.kind === 'timeout'
        ? platformErrors.TIMEOUT(`${module}.${method} did not answer in ${timeoutMs} ms`)
        : platformErrors.SERVICE_UNAVAILABLE(`${module} could not be reached`);
    }
    return error;
  }

  const api: Record<string, unknown> = {};
  for (const name of options.methods) {
    api[name] = (ctx: CallContext, ...args: unknown[]) => call(name, ctx, args);
  }

  function breakerState(): BreakerState {
    switch (breaker.state) {
      case CircuitState.Closed:
        return 'closed';
      case CircuitState.HalfOpen:
        return 'half-open';
      case CircuitState.Open:
        // cockatiel lets the next call through after the delay; until one comes it still says Open.
        return Date.now() - openedAt >= halfOpenAfterMs ? 'half-open' : 'open';
      default:
        return 'open';
    }
  }

  return {
    api: Object.freeze(api) as Api,
    breakerState,
    async check() {
      if (breakerState() === 'open') {
        throw platformErrors.SERVICE_UNAVAILABLE(`${module} is unavailable: its circuit breaker is open`);
      }
    },
    async close() {
      closed = true;
      await Promise.all([...pools.values()].map((pool) => pool.close()));
      pools.clear();
    },
  };
}
