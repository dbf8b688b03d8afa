import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEdge } from '../../platform/http/server.ts';
import { createOrdersRoutes } from './routes.ts';
import { createGate, createHarness, type Harness } from './test-support.ts';

let h: Harness;
let app: FastifyInstance;
let customerToken: string;
let otherToken: string;
let adminToken: string;

beforeEach(async () => {
  h = await createHarness();
  app = await createEdge({
    log: pino({ level: 'silent' }),
    bodyLimitBytes: 1_048_576,
    requestTimeoutMs: 10_000,
    auth: { secret: 's'.repeat(48), ttlSeconds: 900, issuer: 'test', audience: 'test', clockSkewSeconds: 0 },
    rateLimit: { max: 10_000, windowSeconds: 60 },
  });
  await app.register(createOrdersRoutes(h.api));
  await app.ready();
  customerToken = app.issueToken({ id: 'user-1', role: 'customer' }).access_token;
  otherToken = app.issueToken({ id: 'user-2', role: 'customer' }).access_token;
  adminToken = app.issueToken({ id: 'admin-1', role: 'admin' }).access_token;
});
afterEach(async () => {
  await app.close();
  await h.close();
});

const bearer = (token: string, extra: Record<string, string> = {}) => ({
  authorization: `Bearer ${token}`,
  ...extra,
});

function place(payload: unknown, headers: Record<string, string> = {}, token = customerToken) {
  return app.inject({
    method: 'POST',
    url: '/orders',
    headers: bearer(token, headers),
    payload: payload as object,
  });
}

describe('orders routes', () => {
  it('places an order (201) and writes money per version', async () => {
    const res = await place({ items: [{ product_id: 'lamp', quantity: 2 }] });
    expect(res.statusCode).toBe(201);
    const order = res.json();
    expect(order).toEqual({
      id: expect.any(String),
      user_id: 'user-1',
      items: [{ product_id: 'lamp', quantity: 2, unit_price: 12.99 }],
      total: 25.98,
      status: 'confirmed',
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    const v2 = await app.inject({
      method: 'GET',
      url: `/v2/orders/${order.id}`,
      headers: bearer(customerToken),
    });
    expect(v2.json()).toMatchObject({
      items: [{ unit_price: { amount_minor: 1299, currency: 'USD' } }],
      total: { amount_minor: 2598, currency: 'USD' },
    });
  });

  it('takes the single-item form and a payment method', async () => {
    const res = await place({
      product_id: 'book',
      quantity: 3,
      payment_method: 'pm_card_visa',
      user_id: 'user-1',
    });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ items: [{ product_id: 'book', quantity: 3 }], total: 24 });
  });

  it('rejects bad bodies and bad idempotency keys with 400, placing nothing', async () => {
    const bad = [
      { items: [{ product_id: 'lamp', quantity: 1 }], status: 'confirmed' },
      { items: [{ product_id: 'lamp', quantity: 1, unit_price: 1 }] },
      { items: [{ product_id: 'lamp', quantity: 0 }] },
      { items: [{ product_id: 'lamp', quantity: 1001 }] },
      { items: [{ product_id: 'lamp', quantity: '1' }] },
      { items: Array.from({ length: 51 }, (_, i) => ({ product_id: `p${i}`, quantity: 1 })) },
      { items: [] },
      { product_id: 'lamp', quantity: 1, items: [{ product_id: 'lamp', quantity: 1 }] },
      { product_id: 'lamp', quantity: 1, payment_method: 'pm_cash' },
      {},
    ];
    for (const payload of bad) {
      const res = await place(payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json().code).toBe('VALIDATION_FAILED');
    }
    for (const key of ['has space', 'x'.repeat(256), 'é']) {
      const res = await place({ product_id: 'lamp', quantity: 1 }, { 'idempotency-key': key });
      expect(res.statusCode).toBe(400);
    }
    expect(h.journal).toEqual([]);
  });

  it('answers failures as problem documents that name the recorded order', async () => {
    const declined = await place({
      product_id: 'lamp',
      quantity: 1,
      payment_method: 'pm_card_chargeDeclined',
    });
    expect(declined.statusCode).toBe(402);
    expect(declined.headers['content-type']).toMatch(/application\/problem\+json/);
    const problem = declined.json();
    expect(problem).toMatchObject({ code: 'PAYMENT_DECLINED', status: 402, order_id: expect.any(String) });
    const order = await app.inject({
      method: 'GET',
      url: `/orders/${problem.order_id}`,
      headers: bearer(customerToken),
    });
    expect(order.json()).toMatchObject({ status: 'cancelled', cancel_reason: 'PAYMENT_DECLINED' });

    const outOfStock = await place({ product_id: 'chair', quantity: 4 });
    expect(outOfStock.statusCode).toBe(409);
    expect(outOfStock.json()).toMatchObject({ code: 'OUT_OF_STOCK', order_id: expect.any(String) });
    expect((await place({ product_id: 'nope', quantity: 1 })).json().code).toBe('PRODUCT_NOT_FOUND');
    expect((await place({ product_id: 'lamp', quantity: 1, user_id: 'user-2' })).statusCode).toBe(403);
    const anonymous = await app.inject({
      method: 'POST',
      url: '/orders',
      payload: { product_id: 'lamp', quantity: 1 },
    });
    expect(anonymous.statusCode).toBe(401);
  });

  it('replays an Idempotency-Key; another body with it is 422', async () => {
    const key = { 'idempotency-key': 'order-attempt-1' };
    const first = await place({ product_id: 'lamp', quantity: 1 }, key);
    const again = await place({ items: [{ product_id: 'lamp', quantity: 1 }] }, key);
    expect(again.statusCode).toBe(201);
    expect(again.json()).toEqual(first.json());
    const other = await place({ product_id: 'lamp', quantity: 2 }, key);
    expect(other.statusCode).toBe(422);
    expect(other.json().code).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('lists own orders; only admins list another user’s', async () => {
    const mine = (await place({ product_id: 'lamp', quantity: 1 })).json();
    await place({ product_id: 'book', quantity: 1 }, {}, otherToken);
    const list = await app.inject({ method: 'GET', url: '/orders?limit=5', headers: bearer(customerToken) });
    expect(list.json()).toEqual({ items: [expect.objectContaining({ id: mine.id })], next_cursor: null });
    const forbidden = await app.inject({
      method: 'GET',
      url: '/orders?user_id=user-2',
      headers: bearer(customerToken),
    });
    expect(forbidden.statusCode).toBe(403);
    const own = await app.inject({
      method: 'GET',
      url: '/orders?user_id=user-1',
      headers: bearer(customerToken),
    });
    expect(own.statusCode).toBe(200);
    const asAdmin = await app.inject({
      method: 'GET',
      url: '/orders?user_id=user-2',
      headers: bearer(adminToken),
    });
    expect(asAdmin.json().items).toHaveLength(1);
    expect(
      (await app.inject({ method: 'GET', url: '/orders?limit=101', headers: bearer(customerToken) }))
        .statusCode,
    ).toBe(400);
  });

  it('shows a pending order with null prices', async () => {
    const gate = createGate();
    h.catalog.behaviour.reserveStock.gate = gate.promise;
    const placing = place({ product_id: 'lamp', quantity: 1 });
    await expect.poll(() => h.journal.length).toBe(1);
    const list = await app.inject({ method: 'GET', url: '/orders', headers: bearer(customerToken) });
    expect(list.json().items[0]).toMatchObject({
      status: 'pending',
      total: null,
      items: [{ product_id: 'lamp', quantity: 1, unit_price: null }],
    });
    gate.open();
    expect((await placing).statusCode).toBe(201);
  });

  it('serves the history, cancels, and ships for admins only', async () => {
    const order = (await place({ product_id: 'lamp', quantity: 1 })).json();
    const events = await app.inject({
      method: 'GET',
      url: `/orders/${order.id}/events`,
      headers: bearer(customerToken),
    });
    expect(events.json().map((e: { type: string }) => e.type)).toEqual([
      'OrderPlaced',
      'StockReserved',
      'PaymentCharged',
      'OrderConfirmed',
    ]);
    expect(events.json()[0]).toMatchObject({
      version: 1,
      occurred_at: expect.any(String),
      data: { user_id: 'user-1', items: [{ product_id: 'lamp', quantity: 1 }] },
    });
    const hidden = await app.inject({
      method: 'GET',
      url: `/orders/${order.id}`,
      headers: bearer(otherToken),
    });
    expect(hidden.statusCode).toBe(404);
    expect(hidden.json().code).toBe('ORDER_NOT_FOUND');

    const byCustomer = await app.inject({
      method: 'POST',
      url: `/orders/${order.id}/ship`,
      headers: bearer(customerToken),
    });
    expect(byCustomer.statusCode).toBe(403);
    const shipped = await app.inject({
      method: 'POST',
      url: `/orders/${order.id}/ship`,
      headers: bearer(adminToken),
    });
    expect(shipped.json()).toMatchObject({ status: 'shipped' });
    const late = await app.inject({
      method: 'POST',
      url: `/orders/${order.id}/cancel`,
      headers: bearer(customerToken),
    });
    expect(late.statusCode).toBe(409);
    expect(late.json().code).toBe('ORDER_NOT_CANCELLABLE');

    const another = (await place({ product_id: 'lamp', quantity: 1 })).json();
    const cancelled = await app.inject({
      method: 'POST',
      url: `/orders/${another.id}/cancel`,
      headers: bearer(customerToken),
    });
    expect(cancelled.statusCode).toBe(200);
    expect(cancelled.json()).toMatchObject({
      status: 'cancelled',
      cancel_reason: 'CANCELLED_BY_USER',
      total: 12.99,
    });
  });

  it('documents the routes in the OpenAPI document, null prices included', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/orders',
        '/orders/{id}',
        '/orders/{id}/events',
        '/orders/{id}/cancel',
        '/orders/{id}/ship',
      ]),
    );
    expect(JSON.stringify(doc.paths['/orders'].post)).toMatch(/null/);
  });
});
