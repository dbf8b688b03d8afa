import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { needs } from '../../../test/support/services.ts';
import { hasCode } from '../errors.ts';
import { createLoginThrottle, redisLimiters } from './login-throttle.ts';

async function refusal(promise: Promise<void>): Promise<{ code: string; retryAfter: unknown } | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    if (!hasCode(error, 'RATE_LIMITED')) throw error;
    return { code: error.code, retryAfter: error.extra.retry_after };
  }
}

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
      expect(await refusal(throttle.check({ username: 'ada', address }))).toBeUndefined();
      await throttle.recordFailure({ username: 'Ada', address });
    }
    expect(await refusal(throttle.check({ username: 'ADA', address: '10.0.0.9' }))).toEqual({
      code: 'RATE_LIMITED',
      retryAfter: 60,
    });
    expect(await refusal(throttle.check({ username: 'grace', address: '10.0.0.1' }))).toBeUndefined();
  });

  it('refuses an address after too many failures for any usernames', async () => {
    const throttle = createLoginThrottle({ maxFailures: 3, windowSeconds: 60 });
    for (const username of ['a1', 'a2', 'a3'])
      await throttle.recordFailure({ username, address: '10.0.0.1' });
    expect(await refusal(throttle.check({ username: 'a4', address: '10.0.0.1' }))).toMatchObject({
      code: 'RATE_LIMITED',
    });
    expect(await refusal(throttle.check({ username: 'a4', address: '10.0.0.2' }))).toBeUndefined();
  });

  it('does not count checks, so successful logins never use up the allowance', async () => {
    const throttle = createLoginThrottle({ maxFailures: 3, windowSeconds: 60 });
    const keys = { username: 'ada', address: '10.0.0.1' };
    await throttle.recordFailure(keys);
    await throttle.recordFailure(keys);
    for (let i = 0; i < 20; i += 1) await throttle.check(keys);
    expect(await refusal(throttle.check(keys))).toBeUndefined();
    await throttle.recordFailure(keys);
    expect(await refusal(throttle.check(keys))).toMatchObject({ code: 'RATE_LIMITED' });
  });

  it('forgets failures when the window ends and says how long is left meanwhile', async () => {
    const throttle = createLoginThrottle({ maxFailures: 2, windowSeconds: 10 });
    const keys = { username: 'ada', address: '10.0.0.1' };
    await throttle.recordFailure(keys);
    await throttle.recordFailure(keys);
    await vi.advanceTimersByTimeAsync(4_000);
    expect(await refusal(throttle.check(keys))).toEqual({ code: 'RATE_LIMITED', retryAfter: 6 });
    await vi.advanceTimersByTimeAsync(6_001);
    expect(await refusal(throttle.check(keys))).toBeUndefined();
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
    await first.recordFailure({ username: 'ada', address: '10.0.0.1' });
    expect(await refusal(second.check({ username: 'ada', address: '10.0.0.2' }))).toMatchObject({
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
    await first.recordFailure({ username, address: '10.0.0.1' });
    expect(await refusal(second.check({ username, address: '10.0.0.2' }))).toBeUndefined();
    await second.recordFailure({ username, address: '10.0.0.3' });
    expect(await refusal(first.check({ username, address: '10.0.0.4' }))).toMatchObject({
      code: 'RATE_LIMITED',
    });
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
      expect(await refusal(throttle.check(keys))).toBeUndefined();
      await throttle.recordFailure(keys);
      await throttle.recordFailure(keys);
      expect(await refusal(throttle.check(keys))).toMatchObject({ code: 'RATE_LIMITED' });
    } finally {
      redis.disconnect();
    }
  });
});
