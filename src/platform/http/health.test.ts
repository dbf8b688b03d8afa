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
    await app.register(healthRoutes, { checks: { database: async () => undefined } });
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
});
