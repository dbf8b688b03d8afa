import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { needs } from '../../../test/support/services.ts';
import { hasCode } from '../errors.ts';
import {
  createLoginThrottle,
  type LimiterSettings,
  type LoginKeys,
  type LoginThrottle,
  redisLimiters,
} from './login-throttle.ts';

async function refusal(
  promise: Promise<unknown>,
): Promise<{ code: string; retryAfter: unknown } | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    if (!hasCode(error, 'RATE_LIMITED')) throw error;
    return { code: error.code, retryAfter: error.extra.retry_after };
  }
}

const WRONG = new Error('wrong password');
const isWrong = (error: unknown) => error === WRONG;
/** An attempt with the right password: counted, then given back. */
const check = (throttle: LoginThrottle, keys: LoginKeys) => throttle.attempt(keys, async () => 'ok', isWrong);
/** An attempt with a wrong password: it stays counted. */
const fail = async (throttle: LoginThrottle, keys: LoginKeys) => {
  try {
    await throttle.attempt(keys, async () => Promise.reject(WRONG), isWrong);
  } catch (error) {
    if (error !== WRONG) throw error;
  }
};

describe('login throttle', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('refuses a username after too many failures from any addresses, case-insensitively', async () => {
    const throttle = createLoginThrottle({ maxFailures: 3, windowSeconds: 60 });
    for (const address of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) {
      expect(await refusal(check(throttle, { username: 'ada', address }))).toBeUndefined();
      await fail(throttle, { username: 'Ada', address });
    }
    expect(await refusal(check(throttle, { username: 'ADA', address: '10.0.0.9' }))).toEqual({
      code: 'RATE_LIMITED',
      retryAfter: 60,
    });
    expect(await refusal(check(throttle, { username: 'grace', address: '10.0.0.1' }))).toBeUndefined();
  });

  it('refuses an address after too many failures for any usernames', async () => {
    const throttle = createLoginThrottle({ maxFailures: 3, windowSeconds: 60, addressFailures: 3 });
    for (const username of ['a1', 'a2', 'a3']) await fail(throttle, { username, address: '10.0.0.1' });
    expect(await refusal(check(throttle, { username: 'a4', address: '10.0.0.1' }))).toMatchObject({
      code: 'RATE_LIMITED',
    });
    expect(await refusal(check(throttle, { username: 'a4', address: '10.0.0.2' }))).toBeUndefined();
  });

  it('does not count checks, so successful logins never use up the allowance', async () => {
    const throttle = createLoginThrottle({ maxFailures: 3, windowSeconds: 60 });
    const keys = { username: 'ada', address: '10.0.0.1' };
    await fail(throttle, keys);
    await fail(throttle, keys);
    for (let i = 0; i < 20; i += 1) await check(throttle, keys);
    expect(await refusal(check(throttle, keys))).toBeUndefined();
    await fail(throttle, keys);
    expect(await refusal(check(throttle, keys))).toMatchObject({ code: 'RATE_LIMITED' });
  });

  it('counts an attempt before its check: of 60 at once, exactly the limit get through', async () => {
    const throttle = createLoginThrottle({ maxFailures: 10, windowSeconds: 60 });
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        refusal(fail(throttle, { username: 'ada', address: `10.1.0.${i}` })),
      ),
    );
    expect(results.filter((r) => r === undefined)).toHaveLength(10);
    // A refused attempt takes nothing from its other key: those addresses are not held against.
    expect(await refusal(check(throttle, { username: 'grace', address: '10.1.0.59' }))).toBeUndefined();
  });

  it('forgets failures when the window ends and says how long is left meanwhile', async () => {
    const throttle = createLoginThrottle({ maxFailures: 2, windowSeconds: 10 });
    const keys = { username: 'ada', address: '10.0.0.1' };
    await fail(throttle, keys);
    await fail(throttle, keys);
    await vi.advanceTimersByTimeAsync(4_000);
    expect(await refusal(check(throttle, keys))).toEqual({ code: 'RATE_LIMITED', retryAfter: 6 });
    await vi.advanceTimersByTimeAsync(6_001);
    expect(await refusal(check(throttle, keys))).toBeUndefined();
  });

  it('takes the counter stores from its caller, so instances can share them', async () => {
    const stores = new Map<string, RateLimiterMemory>();
    const createLimiter = (settings: LimiterSettings) => {
      const store = stores.get(settings.keyPrefix) ?? new RateLimiterMemory({ ...settings });
      stores.set(settings.keyPrefix, store);
      return store;
    };
    const first = createLoginThrottle({ maxFailures: 1, windowSeconds: 60, createLimiter });
    const second = createLoginThrottle({ maxFailures: 1, windowSeconds: 60, createLimiter });
    expect([...stores.keys()].sort()).toEqual([
      'login-address-failures',
      'login-address-logins',
      'login-failures',
      'login-remembered',
      'login-remembered-failures',
    ]);
    await fail(first, { username: 'ada', address: '10.0.0.1' });
    expect(await refusal(check(second, { username: 'ada', address: '10.0.0.2' }))).toMatchObject({
      code: 'RATE_LIMITED',
    });
  });

  it('counts an address more failures than a name, so one guesser does not lock out a NAT', async () => {
    const throttle = createLoginThrottle({ maxFailures: 3, windowSeconds: 60, addressFailures: 6 });
    const nat = '10.0.0.1';
    for (let i = 0; i < 3; i++) await fail(throttle, { username: 'ada', address: nat });
    expect(await refusal(check(throttle, { username: 'ada', address: nat }))).toMatchObject({
      code: 'RATE_LIMITED',
    });
    expect(await refusal(check(throttle, { username: 'grace', address: nat }))).toBeUndefined();
    for (let i = 0; i < 3; i++) await fail(throttle, { username: `guess${i}`, address: nat });
    expect(await refusal(check(throttle, { username: 'grace', address: nat }))).toMatchObject({
      code: 'RATE_LIMITED',
    });
  });

  it('lets an address that logged the session in before in while the name is locked, on a count of its own', async () => {
    const throttle = createLoginThrottle({ maxFailures: 3, windowSeconds: 60 });
    const home = { username: 'ada', address: '10.0.0.1', session: 'ada@1' };
    expect(await refusal(check(throttle, home))).toBeUndefined();
    for (let i = 0; i < 3; i++)
      await fail(throttle, { username: 'ada', address: `10.9.0.${i}`, session: 'ada@1' });
    // Locked for any new address, the attacker's and the owner's alike; open at home.
    expect(await refusal(check(throttle, { ...home, address: '10.0.0.2' }))).toMatchObject({
      code: 'RATE_LIMITED',
    });
    expect(await refusal(check(throttle, home))).toBeUndefined();
    // A new session (the password changed) has no remembered address.
    expect(await refusal(check(throttle, { ...home, session: 'ada@2' }))).toMatchObject({
      code: 'RATE_LIMITED',
    });
    // Home has a count of its own, and its failures do not count against the name.
    for (let i = 0; i < 3; i++) await fail(throttle, home);
    expect(await refusal(check(throttle, home))).toMatchObject({ code: 'RATE_LIMITED' });
    await vi.advanceTimersByTimeAsync(60_001);
    expect(await refusal(check(throttle, { ...home, address: '10.0.0.2' }))).toBeUndefined();
  });

  it('remembers an address for its whole time on real timers', async () => {
    vi.useRealTimers();
    const throttle = createLoginThrottle({ maxFailures: 1, windowSeconds: 60 });
    const home = { username: 'ada', address: '10.0.0.1', session: 'ada@1' };
    await check(throttle, home);
    await fail(throttle, { ...home, address: '10.0.0.2' });
    // A timer past 2^31 ms would fire at once and forget the address before this check.
    await new Promise((done) => setTimeout(done, 20));
    expect(await refusal(check(throttle, home))).toBeUndefined();
  });

  it('limits the logins of an address, right passwords included', async () => {
    const throttle = createLoginThrottle({
      maxFailures: 3,
      windowSeconds: 60,
      addressLogins: { max: 5, windowSeconds: 10 },
    });
    for (let i = 0; i < 5; i++)
      expect(await refusal(check(throttle, { username: `u${i}`, address: '10.0.0.1' }))).toBeUndefined();
    expect(await refusal(check(throttle, { username: 'u9', address: '10.0.0.1' }))).toEqual({
      code: 'RATE_LIMITED',
      retryAfter: 10,
    });
    expect(await refusal(check(throttle, { username: 'u9', address: '10.0.0.2' }))).toBeUndefined();
  });

  it('checks a few logins of one address at once and refuses the flood, leaving room for others', async () => {
    const throttle = createLoginThrottle({ maxFailures: 3, windowSeconds: 60, addressConcurrency: 2 });
    const release: Array<() => void> = [];
    let started = 0;
    const slow = () =>
      throttle.attempt(
        { username: 'ada', address: '10.0.0.1' },
        () =>
          new Promise<string>((done) => {
            started += 1;
            release.push(() => done('ok'));
          }),
        isWrong,
      );
    const flood = Array.from({ length: 20 }, () => refusal(slow()));
    await vi.advanceTimersByTimeAsync(0);
    expect(started).toBe(2);
    // Another address is not held up by the flood.
    expect(await refusal(check(throttle, { username: 'grace', address: '10.0.0.2' }))).toBeUndefined();
    while (release.length > 0) {
      release.shift()!();
      await vi.advanceTimersByTimeAsync(0);
    }
    const answers = await Promise.all(flood);
    expect(started).toBe(4);
    expect(answers.filter((a) => a === undefined)).toHaveLength(4);
    expect(answers.filter((a) => a !== undefined)).toEqual(
      Array.from({ length: 16 }, () => ({ code: 'RATE_LIMITED', retryAfter: 1 })),
    );
  });

  it('gives back a check that failed for another reason than a wrong password', async () => {
    const throttle = createLoginThrottle({ maxFailures: 1, windowSeconds: 60 });
    const keys = { username: 'ada', address: '10.0.0.1' };
    const busy = new Error('busy');
    await expect(throttle.attempt(keys, () => Promise.reject(busy), isWrong)).rejects.toBe(busy);
    expect(await refusal(check(throttle, keys))).toBeUndefined();
  });
});

describe.skipIf(!(await needs('redis')))('login throttle over Redis', () => {
  let redis: Redis;
  beforeEach(async () => {
    redis = new Redis({ host: '127.0.0.1', port: 6379, commandTimeout: 1000 });
    await redis.ping();
  });
  afterEach(() => {
    redis.disconnect();
  });

  it('counts the failures of every users-service instance together', async () => {
    const settings = { maxFailures: 2, windowSeconds: 60 };
    const first = createLoginThrottle({ ...settings, createLimiter: redisLimiters(redis) });
    const second = createLoginThrottle({ ...settings, createLimiter: redisLimiters(redis) });
    const username = `ada-${randomUUID()}`;
    await fail(first, { username, address: '10.0.0.1' });
    expect(await refusal(check(second, { username, address: '10.0.0.2' }))).toBeUndefined();
    await fail(second, { username, address: '10.0.0.3' });
    expect(await refusal(check(first, { username, address: '10.0.0.4' }))).toMatchObject({
      code: 'RATE_LIMITED',
    });
  });
});

describe.skipIf(!(await needs('redis')))('login throttle over Redis, concurrently', () => {
  it('lets exactly the limit through of 100 attempts at once on two instances', async () => {
    const redis = new Redis({ host: '127.0.0.1', port: 6379, commandTimeout: 1000 });
    try {
      // Until it is connected each instance counts in its own memory.
      await redis.ping();
      const settings = { maxFailures: 10, windowSeconds: 60, createLimiter: redisLimiters(redis) };
      const instances = [createLoginThrottle(settings), createLoginThrottle(settings)];
      const username = `ada-${randomUUID()}`;
      const results = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          refusal(fail(instances[i % 2]!, { username, address: `10.2.${i}.1-${username}` })),
        ),
      );
      expect(results.filter((r) => r === undefined)).toHaveLength(10);
    } finally {
      redis.disconnect();
    }
  });
});

describe('login throttle with Redis down', () => {
  it('still counts, in memory, and never fails a login for it', async () => {
    const closedPort = await new Promise<number>((done) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => done(port));
      });
    });
    const redis = new Redis({
      host: '127.0.0.1',
      port: closedPort,
      lazyConnect: true,
      retryStrategy: () => null,
    });
    redis.on('error', () => undefined);
    try {
      const throttle = createLoginThrottle({
        maxFailures: 2,
        windowSeconds: 60,
        createLimiter: redisLimiters(redis),
      });
      const keys = { username: 'ada', address: '10.0.0.1' };
      expect(await refusal(check(throttle, keys))).toBeUndefined();
      await fail(throttle, keys);
      await fail(throttle, keys);
      expect(await refusal(check(throttle, keys))).toMatchObject({ code: 'RATE_LIMITED' });
    } finally {
      redis.disconnect();
    }
  });
});
