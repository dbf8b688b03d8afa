import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { needs } from '../../../test/support/services.ts';
import {
  type FakeUpstream,
  gatewayOptions,
  type RunningGateway,
  startGateway,
  startUpstream,
} from './test-support.ts';

function closedPort(): Promise<number> {
  return new Promise((done) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

async function startLimited(upstream: FakeUpstream, redis: Redis, max: number): Promise<RunningGateway> {
  const options = gatewayOptions({ catalog: [upstream.url], orders: [upstream.url], users: [upstream.url] });
  return startGateway({
    ...options,
    edge: { ...options.edge, rateLimit: { max, windowSeconds: 60 } },
    redis,
    cache: false,
  });
}

/**
 * Waits until the gateway's own Redis connection is up, as it is long before traffic in production:
 * until then it writes no RateLimit headers.
 */
async function settle(gateway: RunningGateway): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if ((await gateway.request('/orders')).headers.ratelimit !== undefined) return;
    await new Promise((done) => setTimeout(done, 20));
  }
  throw new Error('The gateway did not connect to Redis');
}

describe.skipIf(!(await needs('redis')))('rate limits across gateway instances', () => {
  let upstream: FakeUpstream;
  let redis: Redis;
  let gateways: RunningGateway[];

  beforeEach(async () => {
    upstream = await startUpstream();
    redis = new Redis({ host: '127.0.0.1', port: 6379 });
    gateways = [await startLimited(upstream, redis, 4), await startLimited(upstream, redis, 4)];
    await Promise.all(gateways.map(settle));
  });
  afterEach(async () => {
    await Promise.all(gateways.map((g) => g.close()));
    redis.disconnect();
    await upstream.close();
  });

  it('counts a user once across every gateway instance', async () => {
    const [a, b] = gateways as [RunningGateway, RunningGateway];
    const token = a.app.issueToken({ id: `u-${randomUUID()}`, role: 'customer' }).access_token;
    const headers = { authorization: `Bearer ${token}` };
    const before = upstream.seen.length;
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++)
      statuses.push((await (i % 2 === 0 ? a : b).request('/orders', { headers })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    const refused = await b.request('/orders', { headers });
    expect(JSON.parse(refused.text).code).toBe('RATE_LIMITED');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(upstream.seen.length - before).toBe(4);
  });

  it('writes the shared count in the RateLimit headers', async () => {
    const [a, b] = gateways as [RunningGateway, RunningGateway];
    const token = a.app.issueToken({ id: `u-${randomUUID()}`, role: 'customer' }).access_token;
    await a.request('/orders', { headers: { authorization: `Bearer ${token}` } });
    const res = await b.request('/orders', { headers: { authorization: `Bearer ${token}` } });
    expect(res.headers['ratelimit-policy']).toBe('"default";q=4;w=60');
    expect(res.headers.ratelimit).toMatch(/^"default";r=2;t=\d+$/);
  });
});

describe('rate limits with Redis down', () => {
  let upstream: FakeUpstream;
  let redis: Redis;
  let gateway: RunningGateway;

  beforeEach(async () => {
    upstream = await startUpstream();
    redis = new Redis({ host: '127.0.0.1', port: await closedPort(), lazyConnect: true });
    redis.on('error', () => undefined);
    gateway = await startLimited(upstream, redis, 3);
  });
  afterEach(async () => {
    await gateway.close();
    redis.disconnect();
    await upstream.close();
  });

  // A limiter that waited for Redis would run into the timeout of this test.
  it('still serves requests, and still limits each user in this instance', { timeout: 5_000 }, async () => {
    const token = gateway.app.issueToken({ id: 'u-1', role: 'customer' }).access_token;
    const headers = { authorization: `Bearer ${token}` };
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await gateway.request('/orders', { headers })).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    // Another user has a budget of their own.
    const other = gateway.app.issueToken({ id: 'u-2', role: 'customer' }).access_token;
    expect((await gateway.request('/orders', { headers: { authorization: `Bearer ${other}` } })).status).toBe(
      200,
    );
  });

  it('does not claim a budget it cannot count, and reports Redis down on /health without going unready', async () => {
    const res = await gateway.request('/orders');
    expect(res.status).toBe(200);
    expect(res.headers.ratelimit).toBeUndefined();
    // It serves on: were it unready, an orchestrator would take every gateway out while Redis is down.
    const health = await gateway.request('/health');
    expect(health.status).toBe(200);
    expect(JSON.parse(health.text)).toMatchObject({
      status: 'degraded',
      checks: { redis: { status: 'down', required: false, fallback: expect.any(String) } },
    });
    const ready = await gateway.request('/health/ready');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.text)).toMatchObject({ status: 'ready' });
  });
});
