import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { needs } from '../../../test/support/services.ts';
import { hasCode } from '../errors.ts';
import { createLoginThrottle, type LoginKeys, type LoginThrottle, redisLimiters } from './login-throttle.ts';

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

/** An attempt with the right password: counted, then given back. */
const check = async (throttle: LoginThrottle, keys: LoginKeys) => (await throttle.attempt(keys)).giveBack();
/** An attempt with a wrong password: it stays counted. */
const fail = async (throttle: LoginThrottle, keys: LoginKeys) => {
  await throttle.attempt(keys);
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
    const throttle = createLoginThrottle({ maxFailures: 3, windowSeconds: 60 });
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

  it('takes the counter store from its caller, so instances can share one', async () => {
    const created: unknown[] = [];
    const shared = new RateLimiterMemory({ keyPrefix: 'login-failures', points: 1, duration: 60 });
    const createLimiter = (settings: unknown) => {
      created.push(settings);
      return shared;
    };
    const first = createLoginThrottle({ maxFailures: 1, windowSeconds: 60, createLimiter });
    const second = createLoginThrottle({ maxFailures: 1, windowSeconds: 60, createLimiter });
    expect(created).toEqual([
      { keyPrefix: 'login-failures', points: 1, duration: 60 },
      { keyPrefix: 'login-failures', points: 1, duration: 60 },
    ]);
    await fail(first, { username: 'ada', address: '10.0.0.1' });
    expect(await refusal(check(second, { username: 'ada', address: '10.0.0.2' }))).toMatchObject({
      code: 'RATE_LIMITED',
    });
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
