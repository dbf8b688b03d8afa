import { CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhen } from 'cockatiel';
import type { FastifyBaseLogger } from 'fastify';
import { Agent, Pool } from 'undici';
import type { InstanceSource } from '../discovery/instances.ts';
import { codesOf } from '../errors.ts';
import { connectionErrorCode } from '../rpc/transport.ts';
import { type Done, promised } from './exchange.ts';

/** How the gateway treats the instances of the services behind it. */
export interface UpstreamOptions {
  /** Per attempt: until the first byte of the answer, and between two chunks of its body. */
  readonly timeoutMs: number;
  /** Keep-alive connections per instance. */
  readonly connections: number;
  /** How often each instance's `/health/live` is asked, and the instance list read again. */
  readonly healthIntervalMs: number;
  /** Consecutive transport failures or 5xx answers after which an instance is ejected. */
  readonly ejectAfterFailures: number;
  /**
   * How long an ejected instance gets no requests; then it is tried again, and one failure ejects it.
   * Ejection never empties a service: while every instance that passes its health checks is ejected,
   * they all take requests anyway (`panic`, as in Envoy).
   */
  readonly ejectForMs: number;
  /** Further attempts of an idempotent request after a transport failure, each on another instance. */
  readonly retries: number;
  /** Consecutive transport failures of a service, any instance, that open its circuit breaker. */
  readonly breakerAfterFailures: number;
  /** How long an open breaker answers 503 before it lets one request through to test the service. */
  readonly breakerHalfOpenMs: number;
}

export const DEFAULT_UPSTREAM_OPTIONS: UpstreamOptions = {
  // Above the order saga's deadline (20 s), so a slow order ends in the service, not at the gateway.
  timeoutMs: 25_000,
  connections: 128,
  healthIntervalMs: 2_000,
  ejectAfterFailures: 3,
  ejectForMs: 10_000,
  retries: 1,
  breakerAfterFailures: 20,
  breakerHalfOpenMs: 5_000,
};

/** One instance of a service, with its connection pool and what the gateway knows of its health. */
export interface Instance {
  readonly url: string;
  readonly pool: Pool;
  /** Set by the active health checks; an instance starts healthy so it serves before the first round. */
  healthy: boolean;
  /** Consecutive failed requests (transport failures and 5xx answers). */
  failures: number;
  /** Until when (epoch ms) it is ejected; 0 when it is not. */
  ejectedUntil: number;
}

/** What `/health` shows of a service behind the gateway. */
export interface UpstreamState {
  readonly available: boolean;
  /** Every instance that passes its health checks is ejected, and they take requests all the same. */
  readonly panic: boolean;
  readonly breaker: 'closed' | 'open' | 'half-open' | 'isolated';
  readonly instances: ReadonlyArray<{
    readonly url: string;
    readonly healthy: boolean;
    readonly ejected: boolean;
    readonly consecutive_failures: number;
  }>;
}

/** The instances of one service, in round-robin order, and the breaker shared by all its requests. */
export interface Upstream {
  readonly service: string;
  /**
   * Runs `exchange` through the service's breaker: `BrokenCircuitError` when it is open, else the
   * exchange's own outcome. The only way to the breaker, which must hear of every request's failure.
   */
  send<T>(exchange: (done: Done<T>) => void, done: Done<T>): void;
  /**
   * The next instance that is healthy, not ejected and not in `tried`; when every healthy instance is
   * ejected, the next healthy one not in `tried`; undefined when there is none.
   */
  pick(tried?: readonly Instance[]): Instance | undefined;
  /** Clears its failures, and its ejection: an instance that answers well is back. */
  succeeded(instance: Instance): void;
  /** Counts a transport failure or a 5xx answer; ejects the instance after too many in a row. */
  failed(instance: Instance): void;
  state(): UpstreamState;
}

/** Every service's upstream, kept up to date by the health checks. */
export interface Upstreams {
  readonly options: UpstreamOptions;
  get(service: string): Upstream | undefined;
  /** One health round now: reads every instance list again, then asks every instance. */
  checkNow(): Promise<void>;
  /** Runs a health round every `healthIntervalMs` on an unref'd timer. */
  start(): void;
  /** Stops the checks and closes every pool, letting requests in flight finish. */
  close(): Promise<void>;
}

/**
 * A failure before any byte of an answer arrived: refused, reset, unreachable, or timed out waiting.
 * A body that stalls after the answer started is not one (the instance may have acted).
 */
export function isTransportFailure(error: unknown): boolean {
  const code = connectionErrorCode(error);
  return code !== undefined && code !== 'UND_ERR_BODY_TIMEOUT';
}

/** The instance took longer than `timeoutMs` to answer or to send the next part of its body. */
export function isUpstreamTimeout(error: unknown): boolean {
  return codesOf(error).some((c) => c === 'UND_ERR_HEADERS_TIMEOUT' || c === 'UND_ERR_BODY_TIMEOUT');
}

const BREAKER_STATES = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half-open',
  [CircuitState.Isolated]: 'isolated',
} as const;

const HEALTH_PATH = '/health/live';

interface UpstreamDeps {
  readonly log: Pick<FastifyBaseLogger, 'info' | 'warn' | 'error'>;
}

/**
 * Builds the upstream of every service: one undici `Pool` per instance with keep-alive connections,
 * round robin over the instances that pass their active health checks and are not ejected, passive
 * ejection after consecutive failures, and one cockatiel circuit breaker per service, opened by
 * transport failures (a service answering 5xx is reachable: its instances get ejected instead).
 */
export function createUpstreams(
  services: Readonly<Record<string, InstanceSource>>,
  options: UpstreamOptions,
  deps: UpstreamDeps,
): Upstreams {
  // Read through Date.now, as cockatiel's breaker does, so one faked clock drives both in tests.
  const now = () => Date.now();
  const poolOptions = {
    connections: options.connections,
    pipelining: 1,
    keepAliveTimeout: 4_000,
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
    connect: { timeout: Math.min(options.timeoutMs, 5_000) },
  };
  // Health checks get their own connections, so a saturated pool cannot make an instance look dead.
  const healthAgent = new Agent({ connections: 1, keepAliveTimeout: options.healthIntervalMs * 2 });
  const healthTimeoutMs = Math.max(100, Math.min(options.timeoutMs, options.healthIntervalMs));
  const upstreams = new Map<string, Upstream & { sync(): void; instances(): readonly Instance[] }>();
  let timer: NodeJS.Timeout | undefined;

  for (const [service, source] of Object.entries(services)) {
    let instances: Instance[] = [];
    let next = 0;
    const breaker = circuitBreaker(handleWhen(isTransportFailure), {
      halfOpenAfter: options.breakerHalfOpenMs,
      breaker: new ConsecutiveBreaker(options.breakerAfterFailures),
    });
    breaker.onBreak((reason) =>
      deps.log.warn({ service, err: 'error' in reason ? reason.error : undefined }, 'circuit breaker opened'),
    );
    breaker.onHalfOpen(() => deps.log.info({ service }, 'circuit breaker half-open: trying a request'));
    breaker.onReset(() => deps.log.info({ service }, 'circuit breaker closed'));
    /** Whether the breaker has been told of a failure since it was last told of a success. */
    let failing = false;
    const available = (instance: Instance, at: number) =>
      instance.healthy && (instance.ejectedUntil === 0 || instance.ejectedUntil <= at);
    const panicking = (at: number) =>
      !instances.some((i) => available(i, at)) && instances.some((i) => i.healthy);
    /** The next instance not in `tried`, in turn, that is available (in panic: that is healthy). */
    const inTurn = (panic: boolean, at: number, tried: readonly Instance[] | undefined) => {
      const count = instances.length;
      for (let i = 0; i < count; i++) {
        const instance = instances[(next + i) % count]!;
        if (!(panic ? instance.healthy : available(instance, at)) || tried?.includes(instance)) continue;
        next = (next + i + 1) % count;
        return instance;
      }
      return undefined;
    };
    const upstream = {
      service,
      send<T>(exchange: (done: Done<T>) => void, done: Done<T>) {
        if (breaker.state !== CircuitState.Closed) {
          // Open or half-open: cockatiel refuses the request, or lets it through as its trial.
          breaker.execute(() => promised(exchange)).then((value) => done(undefined, value), done);
          return;
        }
        // Closed, the common case: the request goes out without cockatiel's two promises a request, and
        // the breaker is told what changes its count of consecutive failures (a ConsecutiveBreaker
        // counts nothing else): every failure, and the first success after one. An outcome that comes
        // back once the breaker has opened belongs to the closed breaker before, and is not told.
        exchange((error, value) => {
          if (breaker.state === CircuitState.Closed && (error !== undefined || failing)) {
            failing = error !== undefined;
            breaker
              .execute(() => (error === undefined ? undefined : Promise.reject(error)))
              .catch(() => undefined);
          }
          done(error, value);
        });
      },
      pick(tried?: readonly Instance[]) {
        const at = now();
        const picked = inTurn(false, at, tried);
        if (picked !== undefined) return picked;
        // Ejection is the gateway's guess from failed requests, and a few of them (or one client who
        // found a request that fails) must not take a whole service away from everyone: with no
        // instance left un-ejected, the health checks alone decide, as Envoy does below its panic
        // threshold.
        return panicking(at) ? inTurn(true, at, tried) : undefined;
      },
      succeeded(instance: Instance) {
        instance.failures = 0;
        instance.ejectedUntil = 0;
      },
      failed(instance: Instance) {
        instance.failures++;
        if (instance.failures < options.ejectAfterFailures) return;
        const at = now();
        const already = instance.ejectedUntil > at;
        instance.ejectedUntil = at + options.ejectForMs;
        // On probation once back: one more failure ejects it again.
        instance.failures = options.ejectAfterFailures - 1;
        // Failing again while ejected (in panic) extends the ejection without a line per request.
        if (!already)
          deps.log.warn({ service, instance: instance.url, for_ms: options.ejectForMs }, 'instance ejected');
      },
      state(): UpstreamState {
        const at = now();
        const panic = panicking(at);
        return {
          available:
            breaker.state !== CircuitState.Open && (panic || instances.some((i) => available(i, at))),
          panic,
          breaker: BREAKER_STATES[breaker.state],
          instances: instances.map((instance) => ({
            url: instance.url,
            healthy: instance.healthy,
            ejected: instance.ejectedUntil > at,
            consecutive_failures: instance.failures,
          })),
        };
      },
      // The instance list may change (a registry); pools of instances that left are closed.
      sync() {
        const urls = source.list();
        const kept = instances.filter((instance) => urls.includes(instance.url));
        for (const instance of instances) {
          if (!kept.includes(instance)) void instance.pool.close().catch(() => undefined);
        }
        for (const url of urls) {
          if (kept.some((instance) => instance.url === url)) continue;
          kept.push({ url, pool: new Pool(url, poolOptions), healthy: true, failures: 0, ejectedUntil: 0 });
        }
        instances = urls.map((url) => kept.find((instance) => instance.url === url)!);
        next = instances.length === 0 ? 0 : next % instances.length;
      },
      instances: () => instances,
    };
    upstream.sync();
    upstreams.set(service, upstream);
  }

  async function check(service: string, instance: Instance): Promise<void> {
    let healthy = false;
    try {
      const { statusCode, body } = await healthAgent.request({
        origin: instance.url,
        path: HEALTH_PATH,
        method: 'GET',
        headersTimeout: healthTimeoutMs,
        bodyTimeout: healthTimeoutMs,
      });
      await body.dump();
      healthy = statusCode === 200;
    } catch {
      healthy = false;
    }
    if (healthy !== instance.healthy) {
      deps.log.warn({ service, instance: instance.url, healthy }, 'instance health changed');
      instance.healthy = healthy;
      // Back after being down (a restart): the failures that ejected it were the old process's.
      if (healthy) {
        instance.ejectedUntil = 0;
        instance.failures = 0;
      }
    }
  }

  const api: Upstreams = {
    options,
    get: (service) => upstreams.get(service),
    async checkNow() {
      const checks: Promise<void>[] = [];
      for (const upstream of upstreams.values()) {
        upstream.sync();
        for (const instance of upstream.instances()) checks.push(check(upstream.service, instance));
      }
      await Promise.all(checks);
    },
    start() {
      if (timer !== undefined) return;
      let running = false;
      const round = () => {
        // A slow round is not stacked on another.
        if (running) return;
        running = true;
        api
          .checkNow()
          .catch((err: unknown) => deps.log.error({ err }, 'health round failed'))
          .finally(() => {
            running = false;
          });
      };
      round();
      timer = setInterval(round, options.healthIntervalMs);
      timer.unref();
    },
    async close() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      const closing: Promise<void>[] = [healthAgent.close()];
      for (const upstream of upstreams.values()) {
        for (const instance of upstream.instances()) closing.push(instance.pool.close());
      }
      await Promise.allSettled(closing);
    },
  };
  return api;
}
