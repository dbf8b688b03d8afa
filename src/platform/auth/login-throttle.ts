import { bulkhead, isBulkheadRejectedError } from 'cockatiel';
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
  /**
   * The account's session as it stands (its id and session version), when the name is an account's.
   * A right password remembers it with the address; a password or role change makes a new one.
   */
  readonly session?: string;
}

/**
 * Limits logins so that guessing gets nowhere and nobody is locked out by someone else:
 * - Failures count per name (`maxFailures`) and per address (`addressFailures`, higher, so one guesser
 *   behind a NAT does not lock out everyone behind it). An attempt is counted before its password is
 *   checked and given back when it was right, so of 100 at once exactly the limit are checked.
 * - An address that has logged this session in before is counted on its own for it (`maxFailures`
 *   of its own), so a locked name or address does not lock out its owner's usual address. A new address
 *   waits for the window, as an attacker does: letting in every address without failures would give a
 *   botnet one guess per address at a locked account. A password change forgets every address.
 * - Every attempt counts against its address's login rate (`addressLogins`), and at most
 *   `addressConcurrency` run at once per address with as many waiting, so one client's flood of right
 *   passwords is refused `RATE_LIMITED` rather than filling the password checker for everyone.
 */
export interface LoginThrottle {
  /**
   * Runs `check` as one attempt: answers its value, or raises `RATE_LIMITED` with `extra.retry_after`
   * (seconds) without running it. A rejection `isWrongPassword` accepts stays counted as a failure;
   * any other (a busy or failed check) is given back, since it guessed nothing.
   */
  attempt<T>(
    keys: LoginKeys,
    check: () => Promise<T>,
    isWrongPassword: (error: unknown) => boolean,
  ): Promise<T>;
}

/** What the throttle asks of a counter store: rate-limiter-flexible's options, fixed by the throttle. */
export interface LimiterSettings {
  readonly keyPrefix: string;
  readonly points: number;
  readonly duration: number;
}

export interface LoginThrottleOptions {
  /** Failed attempts allowed per name, and per remembered address of a session, in a window. */
  readonly maxFailures: number;
  readonly windowSeconds: number;
  /** Failed attempts allowed per address in the window. Default: 10 × maxFailures. */
  readonly addressFailures?: number;
  /** Attempts of any outcome allowed per address. Default: 300 a minute. */
  readonly addressLogins?: { readonly max: number; readonly windowSeconds: number };
  /** Attempts run at once per address (and as many more may wait), per instance. Default: 2. */
  readonly addressConcurrency?: number;
  /** How long a right password remembers its address. Default: 14 days; the memory store's timers end at 24. */
  readonly rememberSeconds?: number;
  /**
   * Builds the counter stores. Defaults to process memory (`RateLimiterMemory`), right for one instance.
   * Several instances share counts by passing a shared store, e.g. `redisLimiters(redis)`.
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

/** One count an attempt takes: a limiter and the key it is taken from. */
type Count = readonly [RateLimiterAbstract, string];

export function createLoginThrottle(options: LoginThrottleOptions): LoginThrottle {
  const { maxFailures, windowSeconds } = options;
  const createLimiter = options.createLimiter ?? ((settings) => new RateLimiterMemory({ ...settings }));
  const limiter = (keyPrefix: string, points: number, duration: number) =>
    createLimiter({ keyPrefix, points, duration });
  const failures = {
    name: limiter('login-failures', maxFailures, windowSeconds),
    address: limiter('login-address-failures', options.addressFailures ?? maxFailures * 10, windowSeconds),
    remembered: limiter('login-remembered-failures', maxFailures, windowSeconds),
  };
  const logins = options.addressLogins ?? { max: 300, windowSeconds: 60 };
  const addressLogins = limiter('login-address-logins', logins.max, logins.windowSeconds);
  const rememberSeconds = options.rememberSeconds ?? 14 * 24 * 3600;
  const remembered = limiter('login-remembered', 1, rememberSeconds);
  const concurrency = options.addressConcurrency ?? 2;
  // One bulkhead per address with attempts in flight, dropped when its last one ends.
  const running = new Map<string, ReturnType<typeof bulkhead>>();

  const giveBack = (counts: readonly Count[]) =>
    Promise.all(counts.map(([l, key]) => l.reward(key, 1))).then(() => undefined);

  /** Takes every count, or none: a refusal gives back what the others took, so it counts nowhere. */
  async function take(counts: readonly Count[]): Promise<void> {
    const taken = await Promise.allSettled(counts.map(([l, key]) => l.consume(key, 1)));
    const refused = taken.flatMap((result) => (result.status === 'rejected' ? [result.reason] : []));
    if (refused.length === 0) return;
    await giveBack(counts.filter((_, i) => taken[i]!.status === 'fulfilled'));
    const limited = refused.filter((reason): reason is RateLimiterRes => reason instanceof RateLimiterRes);
    if (limited.length < refused.length) throw refused.find((reason) => !(reason instanceof RateLimiterRes));
    const retryAfter = Math.max(1, Math.ceil(Math.max(...limited.map((res) => res.msBeforeNext)) / 1000));
    throw platformErrors.RATE_LIMITED(`Too many logins; try again in ${retryAfter} s`, {
      retry_after: retryAfter,
    });
  }

  async function counted<T>(
    keys: LoginKeys,
    check: () => Promise<T>,
    isWrongPassword: (error: unknown) => boolean,
  ): Promise<T> {
    const name = `user:${keys.username.toLowerCase()}`;
    const address = `addr:${keys.address}`;
    const session = keys.session === undefined ? undefined : `${keys.session}|${address}`;
    const known = session !== undefined && (await remembered.get(session)) !== null;
    const failed: Count[] = known
      ? [[failures.remembered, session]]
      : [
          [failures.name, name],
          [failures.address, address],
        ];
    await take([...failed, [addressLogins, address]]);
    let value: T;
    try {
      value = await check();
    } catch (error) {
      if (!isWrongPassword(error)) await giveBack([...failed, [addressLogins, address]]);
      throw error;
    }
    await giveBack(failed);
    if (session !== undefined && !known) await remembered.set(session, 1, rememberSeconds);
    return value;
  }

  return {
    async attempt(keys, check, isWrongPassword) {
      let lane = running.get(keys.address);
      if (!lane) {
        lane = bulkhead(concurrency, concurrency);
        running.set(keys.address, lane);
      }
      try {
        return await lane.execute(() => counted(keys, check, isWrongPassword));
      } catch (error) {
        if (!isBulkheadRejectedError(error)) throw error;
        throw platformErrors.RATE_LIMITED('Too many logins at once from this address; try again in 1 s', {
          retry_after: 1,
        });
      } finally {
        if (lane.executionSlots === concurrency && lane.queueSlots === concurrency)
          running.delete(keys.address);
      }
    },
  };
}
