import type { Redis } from 'ioredis';
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import { platformErrors } from '../errors.ts';

/** What a login attempt is counted by: the name it tried and the address it came from. */
export interface LoginKeys {
  /** What the attempt names: the account it names, else the username or email tried; counted lowercased. */
  readonly username: string;
  readonly address: string;
}

/**
 * Counts failed logins per username and per address, separately, so neither guessing one account's
 * password from many addresses nor many accounts' passwords from one address gets far. Successful
 * logins are not counted.
 */
export interface LoginThrottle {
  /** Raises `RATE_LIMITED` with `extra.retry_after` (seconds) when either key has too many failures. */
  check(keys: LoginKeys): Promise<void>;
  recordFailure(keys: LoginKeys): Promise<void>;
}

/** What the throttle asks of a counter store: rate-limiter-flexible's options, fixed by the throttle. */
export interface LimiterSettings {
  readonly keyPrefix: string;
  readonly points: number;
  readonly duration: number;
}

export interface LoginThrottleOptions {
  /** Failures allowed per key in a window; the next attempt is refused. */
  readonly maxFailures: number;
  readonly windowSeconds: number;
  /**
   * Builds the counter store. Defaults to process memory (`RateLimiterMemory`), right for one instance.
   * Several gateway instances share counts by passing a shared store, e.g.
   * `(settings) => new RateLimiterRedis({ ...settings, storeClient: redis })`.
   */
  readonly createLimiter?: (settings: LimiterSettings) => RateLimiterAbstract;
}

/**
 * Counter stores in Redis for `createLoginThrottle({ createLimiter })`, for the composition root: login
 * runs in the users service, so every users-service instance must count failed logins together. While
 * Redis is not connected each instance counts in its own memory (the insurance limiter), so logins keep
 * working and stay throttled per instance. Give the client a `commandTimeout`, so a Redis that hangs
 * rather than refuses also falls back to memory.
 */
export function redisLimiters(redis: Redis): (settings: LimiterSettings) => RateLimiterAbstract {
  return (settings) =>
    new RateLimiterRedis({
      ...settings,
      storeClient: redis,
      rejectIfRedisNotReady: true,
      insuranceLimiter: new RateLimiterMemory({ ...settings }),
    });
}

export function createLoginThrottle(options: LoginThrottleOptions): LoginThrottle {
  const { maxFailures } = options;
  const createLimiter = options.createLimiter ?? ((settings) => new RateLimiterMemory({ ...settings }));
  const limiter = createLimiter({
    keyPrefix: 'login-failures',
    points: maxFailures,
    duration: options.windowSeconds,
  });
  const keysOf = ({ username, address }: LoginKeys) => [`user:${username.toLowerCase()}`, `addr:${address}`];

  return {
    async check(keys) {
      const counts = await Promise.all(keysOf(keys).map((key) => limiter.get(key)));
      let waitMs = 0;
      for (const count of counts) {
        if (count && count.consumedPoints >= maxFailures) waitMs = Math.max(waitMs, count.msBeforeNext);
      }
      if (waitMs <= 0) return;
      const retryAfter = Math.max(1, Math.ceil(waitMs / 1000));
      throw platformErrors.RATE_LIMITED(`Too many failed logins; try again in ${retryAfter} s`, {
        retry_after: retryAfter,
      });
    },
    async recordFailure(keys) {
      // penalty counts without refusing, unlike consume: refusing is check's job.
      await Promise.all(keysOf(keys).map((key) => limiter.penalty(key, 1)));
    },
  };
}
