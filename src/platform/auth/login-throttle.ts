import type { Redis } from 'ioredis';
import {
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
} from 'rate-limiter-flexible';
import { platformErrors } from '../errors.ts';

/** What a login attempt is counted by: the name it tried and the address it came from. */
export interface LoginKeys {
  /** What the attempt names: the account it names, else the username or email tried; counted lowercased. */
  readonly username: string;
  readonly address: string;
}

/**
 * Counts failed logins per username and per address, separately, so neither guessing one account's
 * password from many addresses nor many accounts' passwords from one address gets far. An attempt is
 * counted before its password is checked, and given back when it was right: counting only after the
 * check let every attempt that arrived before the first failure was recorded through (60 at once got
 * 20 checks against a limit of 10), where this way a limit of 10 lets exactly 10 through.
 */
export interface LoginThrottle {
  /**
   * Counts an attempt on both keys, atomically (in Redis when shared): raises `RATE_LIMITED` with
   * `extra.retry_after` (seconds) when either key has no attempt left. The attempt stays counted as a
   * failure unless `giveBack` is called: for a right password, or a check that never happened.
   */
  attempt(keys: LoginKeys): Promise<{ giveBack(): Promise<void> }>;
}

/** What the throttle asks of a counter store: rate-limiter-flexible's options, fixed by the throttle. */
export interface LimiterSettings {
  readonly keyPrefix: string;
  readonly points: number;
  readonly duration: number;
}

export interface LoginThrottleOptions {
  /** Failed attempts allowed per key in a window; the next attempt is refused. */
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
    async attempt(keys) {
      const names = keysOf(keys);
      const taken = await Promise.allSettled(names.map((key) => limiter.consume(key, 1)));
      const refused = taken.flatMap((result) => (result.status === 'rejected' ? [result.reason] : []));
      const giveBack = (which: readonly string[]) =>
        Promise.all(which.map((key) => limiter.reward(key, 1))).then(() => undefined);
      if (refused.length === 0) return { giveBack: () => giveBack(names) };
      // Refused: what it took of a key that still had room is given back, so it counts nowhere.
      await giveBack(names.filter((_, i) => taken[i]!.status === 'fulfilled'));
      const limited = refused.filter((reason): reason is RateLimiterRes => reason instanceof RateLimiterRes);
      if (limited.length < refused.length)
        throw refused.find((reason) => !(reason instanceof RateLimiterRes));
      const waitMs = Math.max(...limited.map((res) => res.msBeforeNext));
      const retryAfter = Math.max(1, Math.ceil(waitMs / 1000));
      throw platformErrors.RATE_LIMITED(`Too many failed logins; try again in ${retryAfter} s`, {
        retry_after: retryAfter,
      });
    },
  };
}
