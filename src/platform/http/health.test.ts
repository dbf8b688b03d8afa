import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { healthRoutes } from './health.ts';
import { createEdge } from './server.ts';

describe('health routes', () => {
  const lines: Array<{ msg: string; req?: { url: string }; level: number }> = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    lines.length = 0;
  });

  it('answer the probes without an info line per probe, and still log other requests', async () => {
    const app = await createEdge({
      log,
      bodyLimitBytes: 1024,
      requestTimeoutMs: 5000,
      auth: {
        secret: 'health-test-secret-0123456789-0123456789',
        ttlSeconds: 900,
        issuer: 'splitshop',
        audience: 'splitshop-api',
        clockSkewSeconds: 0,
      },
      rateLimit: { max: 100, windowSeconds: 60 },
    });
    close = () => app.close();
    await app.register(healthRoutes, {
      checks: { database: { required: true, run: async () => undefined } },
    });
    app.get('/things', async () => ({ ok: true }));
    await app.ready();
    for (const url of ['/health/live', '/health/ready']) {
      expect((await app.inject({ url })).statusCode).toBe(200);
    }
    expect(lines.filter((line) => line.req?.url?.startsWith('/health/'))).toEqual([]);
    expect((await app.inject({ url: '/health' })).json()).toMatchObject({
      checks: { database: { status: 'up' } },
    });
    expect((await app.inject({ url: '/things' })).statusCode).toBe(200);
    expect(lines.some((line) => line.req?.url === '/things')).toBe(true);
  });

  it('are ready while every required check is up, whatever else is down; /health reports it all', async () => {
    const app = await createEdge({
      log: pino({ level: 'silent' }),
      bodyLimitBytes: 1024,
      requestTimeoutMs: 5000,
      auth: {
        secret: 'health-test-secret-0123456789-0123456789',
        ttlSeconds: 900,
        issuer: 'splitshop',
        audience: 'splitshop-api',
        clockSkewSeconds: 0,
      },
      rateLimit: { max: 100, windowSeconds: 60 },
    });
    close = () => app.close();
    const up = { database: true, bus: true };
    let busChecked = 0;
    const failUnless = (ok: boolean) => (ok ? Promise.resolve() : Promise.reject(new Error('unreachable')));
    await app.register(healthRoutes, {
      checks: {
        database: { required: true, run: () => failUnless(up.database) },
        bus: {
          required: false,
          fallback: 'events wait in the outbox',
          run: () => {
            busChecked += 1;
            return failUnless(up.bus);
          },
        },
      },
    });
    await app.ready();
    const get = async (url: string) => {
      const res = await app.inject({ url });
      return { status: res.statusCode, body: res.json() };
    };

    up.bus = false;
    expect(await get('/health/ready')).toEqual({
      status: 200,
      body: { status: 'ready', checks: { database: { status: 'up' } } },
    });
    // The probe asks only what decides it.
    expect(busChecked).toBe(0);
    expect(await get('/health')).toEqual({
      status: 200,
      body: {
        status: 'degraded',
        checks: {
          database: { status: 'up' },
          bus: {
            status: 'down',
            error: 'unreachable',
            required: false,
            fallback: 'events wait in the outbox',
          },
        },
      },
    });

    up.database = false;
    expect(await get('/health/ready')).toMatchObject({
      status: 503,
      body: { status: 'unready', checks: { database: { status: 'down', error: 'unreachable' } } },
    });
    expect(await get('/health')).toMatchObject({ status: 503, body: { status: 'unhealthy' } });
    expect((await get('/health/live')).status).toBe(200);

    up.database = true;
    up.bus = true;
    expect(await get('/health')).toMatchObject({ status: 200, body: { status: 'healthy' } });
  });
});
