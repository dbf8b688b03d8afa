import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { paymentsMigrations } from '../../../migrations/payments/index.ts';
import type { CallContext } from '../../platform/context.ts';
import { type ModuleDatabase, migrateToLatest, openDatabase } from '../../platform/db/database.ts';
import { createOutbox } from '../../platform/events/outbox.ts';
import { createEdge } from '../../platform/http/server.ts';
import { createInProcessPayments } from './adapters/in-process.ts';
import type { PaymentsApi, PaymentsEvents } from './contract.ts';
import type { PaymentsDatabase } from './repository.ts';
import { createPaymentsRoutes } from './routes.ts';
import { createPaymentsService } from './service.ts';

describe('payments routes', () => {
  let database: ModuleDatabase<PaymentsDatabase>;
  let api: PaymentsApi;
  let app: FastifyInstance;
  const owner = { id: 'u-1', role: 'customer' } as const;
  const ctx: CallContext = { requestId: 'r', actor: owner };

  beforeEach(async () => {
    database = openDatabase<PaymentsDatabase>({ url: 'sqlite::memory:' });
    await migrateToLatest(database.db as Kysely<unknown>, 'payments', paymentsMigrations);
    const outbox = createOutbox<PaymentsDatabase, PaymentsEvents>(database.db, 'payments');
    api = createInProcessPayments(createPaymentsService({ db: database.db, outbox }));
    app = await createEdge({
      log: pino({ level: 'silent' }),
      bodyLimitBytes: 1_048_576,
      requestTimeoutMs: 10_000,
      auth: {
        secret: 's'.repeat(48),
        ttlSeconds: 900,
        issuer: 'test',
        audience: 'test',
        clockSkewSeconds: 0,
      },
      rateLimit: { max: 10_000, windowSeconds: 60 },
    });
    await app.register(createPaymentsRoutes(api));
    await app.ready();
    await api.charge(ctx, {
      idempotency_key: 'o-1:charge',
      order_id: 'o-1',
      user_id: 'u-1',
      amount_minor: 2598,
      currency: 'USD',
      payment_method: 'pm_card_visa',
    });
    await api.refund(ctx, { idempotency_key: 'o-1:refund', order_id: 'o-1', charge_key: 'o-1:charge' });
  });
  afterEach(async () => {
    await app.close();
    await database.close();
  });

  const get = (url: string, actor?: { id: string; role: 'customer' | 'admin' }) =>
    app.inject({
      method: 'GET',
      url,
      headers: actor ? { authorization: `Bearer ${app.issueToken(actor).access_token}` } : {},
    });

  it("answers the owner with the order's charge and refund, money per version", async () => {
    const v1 = await get('/payments?order_id=o-1', owner);
    expect(v1.statusCode).toBe(200);
    expect(v1.json()).toEqual([
      {
        id: expect.any(String),
        order_id: 'o-1',
        kind: 'charge',
        amount: 25.98,
        status: 'succeeded',
        created_at: expect.any(String),
      },
      {
        id: expect.any(String),
        order_id: 'o-1',
        kind: 'refund',
        amount: 25.98,
        status: 'succeeded',
        created_at: expect.any(String),
      },
    ]);
    const v2 = await get('/v2/payments?order_id=o-1', owner);
    expect((v2.json() as Array<{ amount: unknown }>)[0]!.amount).toEqual({
      amount_minor: 2598,
      currency: 'USD',
    });
  });

  it('answers an admin, hides the order from other customers, and needs a signed-in caller', async () => {
    expect((await get('/payments?order_id=o-1', { id: 'root', role: 'admin' })).json()).toHaveLength(2);
    const stranger = await get('/payments?order_id=o-1', { id: 'u-2', role: 'customer' });
    expect(stranger.json()).toMatchObject({ status: 404, code: 'ORDER_NOT_FOUND' });
    const anonymous = await get('/payments?order_id=o-1');
    expect(anonymous.json()).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
  });

  it('requires an order_id of 1 to 100 characters', async () => {
    for (const url of ['/payments', '/payments?order_id=', `/payments?order_id=${'x'.repeat(101)}`]) {
      const res = await get(url, owner);
      expect(res.json(), url).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
    }
    expect((await get('/payments?order_id=unknown', owner)).json()).toEqual([]);
  });
});
