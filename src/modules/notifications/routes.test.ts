import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ModuleDatabase, migrateToLatest, openDatabase } from '../../platform/db/database.ts';
import { createEnvelope } from '../../platform/events/envelope.ts';
import { createMemoryBus } from '../../platform/events/memory-bus.ts';
import { createEdge } from '../../platform/http/server.ts';
import type { ModuleInstance } from '../../platform/module.ts';
import type { NotificationsApi } from './contract.ts';
import { createNotificationsModule } from './module.ts';
import type { NotificationsDatabase } from './repository.ts';

describe('GET /notifications', () => {
  let database: ModuleDatabase<NotificationsDatabase>;
  let module: ModuleInstance<NotificationsApi>;
  let app: FastifyInstance;
  let token: string;

  beforeEach(async () => {
    database = openDatabase<NotificationsDatabase>({ url: 'sqlite::memory:' });
    const log = pino({ level: 'silent' });
    module = createNotificationsModule({ database, bus: createMemoryBus(), log });
    await migrateToLatest(database.db as Kysely<unknown>, module.name, module.migrations);
    app = await createEdge({
      log,
      bodyLimitBytes: 1024 * 1024,
      requestTimeoutMs: 10_000,
      auth: {
        secret: 'a-test-secret-that-is-long-enough-for-hs256',
        ttlSeconds: 600,
        issuer: 'splitshop',
        audience: 'splitshop',
        clockSkewSeconds: 5,
      },
      rateLimit: { max: 10_000, windowSeconds: 60 },
    });
    await app.register(module.routes);
    await app.ready();
    token = app.issueToken({ id: 'u1', role: 'customer' }).access_token;
    for (const order_id of ['o1', 'o2', 'o3']) {
      await module.subscriptions[0]!.handle(
        createEnvelope('orders', 'orders.order_shipped', { order_id, user_id: 'u1' }),
      );
    }
  });

  afterEach(async () => {
    await app.close();
    await database.close();
  });

  const get = (url: string, auth = true) =>
    app.inject({ method: 'GET', url, headers: auth ? { authorization: `Bearer ${token}` } : {} });

  it('answers 401 UNAUTHORIZED without a token', async () => {
    const res = await get('/notifications', false);
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it("lists the caller's notifications in the public shape, newest first", async () => {
    const res = await get('/v2/notifications');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.next_cursor).toBeNull();
    expect(body.items).toHaveLength(3);
    for (const item of body.items) {
      expect(Object.keys(item).sort()).toEqual(['body', 'channel', 'created_at', 'id', 'subject']);
      expect(item.channel).toBe('email');
    }
    expect(body.items[0].subject).toContain('o3');
    expect(body.items[2].subject).toContain('o1');
  });

  it('pages with limit and cursor', async () => {
    const first = (await get('/notifications?limit=2')).json();
    expect(first.items).toHaveLength(2);
    expect(typeof first.next_cursor).toBe('string');
    const second = (await get(`/notifications?limit=2&cursor=${first.next_cursor}`)).json();
    expect(second.items).toHaveLength(1);
    expect(second.next_cursor).toBeNull();
    expect(second.items[0].subject).toContain('o1');
  });

  it.each(['0', '101', '2.5', 'ten'])('answers 400 VALIDATION_FAILED for limit=%s', async (limit) => {
    const res = await get(`/notifications?limit=${limit}`);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it('answers 400 INVALID_CURSOR for a cursor it did not give', async () => {
    const res = await get('/notifications?cursor=not-a-cursor');
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'INVALID_CURSOR' });
  });
});
