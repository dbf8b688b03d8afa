import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { findSaga } from './repository.ts';
import {
  admin,
  createGate,
  createHarness,
  customer,
  FAKE_TIMERS,
  type Harness,
  otherCustomer,
  rejection,
} from './test-support.ts';

const visa = 'pm_card_visa' as const;
const lamp = (quantity = 1) => ({ items: [{ product_id: 'lamp', quantity }], payment_method: visa });

let h: Harness;
beforeEach(async () => {
  h = await createHarness({ deadlineMs: 2_000 });
});
afterEach(async () => {
  vi.useRealTimers();
  await h.close();
});

describe('placeOrder', () => {
  it('runs the saga to its end and returns the confirmed order, with one confirmation event out', async () => {
    const order = await h.api.placeOrder(customer, {
      items: [
        { product_id: 'lamp', quantity: 2 },
        { product_id: 'book', quantity: 1 },
      ],
      payment_method: visa,
    });
    expect(order).toMatchObject({
      user_id: 'user-1',
      status: 'confirmed',
      total_minor: 2 * 1299 + 800,
      currency: 'USD',
      cancel_reason: null,
      items: [
        { product_id: 'book', quantity: 1, unit_price_minor: 800 },
        { product_id: 'lamp', quantity: 2, unit_price_minor: 1299 },
      ],
    });
    expect(h.journal).toEqual(['reserveStock', 'charge']);
    expect(h.catalog.held('lamp')).toBe(2);
    expect(h.payments.net()).toBe(3398);
    const events = await h.api.getOrderEvents(customer, order.id);
    expect(events.map((e) => [e.type, e.version])).toEqual([
      ['OrderPlaced', 1],
      ['StockReserved', 2],
      ['PaymentCharged', 3],
      ['OrderConfirmed', 4],
    ]);
    expect(await h.outboxEvents()).toEqual([
      {
        type: 'orders.order_confirmed',
        data: {
          order_id: order.id,
          user_id: 'user-1',
          total_minor: 3398,
          currency: 'USD',
          items: order.items,
        },
      },
    ]);
    expect(await findSaga(h.db, order.id)).toMatchObject({
      kind: 'place',
      status: 'done',
      lease_until: null,
    });
  });

  it('merges lines of one product into one reservation line', async () => {
    const order = await h.api.placeOrder(customer, {
      items: [
        { product_id: 'lamp', quantity: 1 },
        { product_id: 'lamp', quantity: 2 },
      ],
      payment_method: visa,
    });
    expect(order.items).toEqual([{ product_id: 'lamp', quantity: 3, unit_price_minor: 1299 }]);
  });

  it('refuses a caller without identity, an order for someone else, and invalid input, placing nothing', async () => {
    expect((await rejection(h.api.placeOrder({ requestId: 'r' }, lamp()))).code).toBe('UNAUTHORIZED');
    expect((await rejection(h.api.placeOrder(customer, { ...lamp(), user_id: 'user-2' }))).code).toBe(
      'FORBIDDEN',
    );
    expect((await rejection(h.api.placeOrder(admin, { ...lamp(), user_id: 'user-1' }))).code).toBe(
      'FORBIDDEN',
    );
    const invalid = [
      { items: [], payment_method: visa },
      { items: [{ product_id: 'lamp', quantity: 0 }], payment_method: visa },
      { items: [{ product_id: 'lamp', quantity: 1001 }], payment_method: visa },
      { items: [{ product_id: 'lamp', quantity: 1.5 }], payment_method: visa },
      { items: [{ product_id: '', quantity: 1 }], payment_method: visa },
      {
        items: Array.from({ length: 51 }, (_, i) => ({ product_id: `p${i}`, quantity: 1 })),
        payment_method: visa,
      },
      { items: [{ product_id: 'lamp', quantity: 1 }], payment_method: 'pm_cash' as typeof visa },
      { ...lamp(), idempotency_key: 'has space' },
    ];
    for (const input of invalid) {
      const err = await rejection(h.api.placeOrder(customer, input));
      expect(err.code).toBe('VALIDATION_FAILED');
      expect(err.extra.errors).toEqual(
        expect.arrayContaining([expect.objectContaining({ path: expect.any(String) })]),
      );
    }
    // Placing for oneself by id is fine.
    expect((await h.api.placeOrder(customer, { ...lamp(), user_id: 'user-1' })).status).toBe('confirmed');
    expect(h.journal).toEqual(['reserveStock', 'charge']);
  });

  it('out of stock: nothing is charged, the order is recorded cancelled, the error is the catalog one', async () => {
    const err = await rejection(
      h.api.placeOrder(customer, { items: [{ product_id: 'chair', quantity: 4 }], payment_method: visa }),
    );
    expect(err).toMatchObject({ code: 'OUT_OF_STOCK', status: 409, title: 'Not enough stock' });
    const orderId = err.extra.order_id as string;
    expect(orderId).toEqual(expect.any(String));
    expect(h.journal).toEqual(['reserveStock']);
    expect(h.payments.behaviour.charge.calls).toBe(0);
    const order = await h.api.getOrder(customer, orderId);
    expect(order).toMatchObject({ status: 'cancelled', cancel_reason: 'OUT_OF_STOCK', total_minor: null });
    expect(await h.outboxEvents()).toEqual([
      {
        type: 'orders.order_cancelled',
        data: { order_id: orderId, user_id: 'user-1', reason: 'OUT_OF_STOCK' },
      },
    ]);
  });

  it('an unknown product fails with PRODUCT_NOT_FOUND and its order id', async () => {
    const err = await rejection(
      h.api.placeOrder(customer, { items: [{ product_id: 'nope', quantity: 1 }], payment_method: visa }),
    );
    expect(err).toMatchObject({ code: 'PRODUCT_NOT_FOUND', status: 404 });
    expect((await h.api.getOrder(customer, err.extra.order_id as string)).cancel_reason).toBe(
      'PRODUCT_NOT_FOUND',
    );
  });

  it('a declined card releases the stock and cancels with PAYMENT_DECLINED', async () => {
    const err = await rejection(
      h.api.placeOrder(customer, {
        items: [{ product_id: 'lamp', quantity: 2 }],
        payment_method: 'pm_card_chargeDeclined',
      }),
    );
    expect(err).toMatchObject({ code: 'PAYMENT_DECLINED', status: 402, title: 'The card was declined' });
    const orderId = err.extra.order_id as string;
    expect(h.journal).toEqual(['reserveStock', 'charge', 'releaseStock']);
    expect(h.catalog.held('lamp')).toBe(0);
    expect(h.payments.net()).toBe(0);
    const events = await h.api.getOrderEvents(customer, orderId);
    expect(events.map((e) => e.type)).toEqual([
      'OrderPlaced',
      'StockReserved',
      'PaymentDeclined',
      'StockReleased',
      'OrderCancelled',
    ]);
    expect((await h.api.getOrder(customer, orderId)).cancel_reason).toBe('PAYMENT_DECLINED');
    expect((await findSaga(h.db, orderId))?.status).toBe('done');
  });

  it('retries a transient failure inline with backoff and still answers the confirmed order', async () => {
    vi.useFakeTimers(FAKE_TIMERS);
    h.payments.behaviour.charge.fail = 2;
    const placing = h.api.placeOrder(customer, lamp());
    await vi.advanceTimersByTimeAsync(1_500);
    const order = await placing;
    expect(order.status).toBe('confirmed');
    expect(h.payments.behaviour.charge.calls).toBe(3);
    expect(h.payments.charges.size).toBe(1);
    expect(await findSaga(h.db, order.id)).toMatchObject({ status: 'done', attempts: 2 });
  });

  it('at the deadline it compensates: refund (which voids the charge key), release, ORDER_TIMEOUT', async () => {
    vi.useFakeTimers(FAKE_TIMERS);
    h.payments.behaviour.charge.fail = 1_000;
    const placing = rejection(h.api.placeOrder(customer, lamp(2)));
    await vi.advanceTimersByTimeAsync(3_000);
    const err = await placing;
    expect(err).toMatchObject({
      code: 'ORDER_TIMEOUT',
      status: 503,
      title: 'The order could not be completed in time',
    });
    const orderId = err.extra.order_id as string;
    expect(h.journal.slice(-2)).toEqual(['refund', 'releaseStock']);
    expect(h.payments.closedKeys.has(`${orderId}:charge`)).toBe(true);
    expect(h.catalog.held('lamp')).toBe(0);
    expect(await h.api.getOrder(customer, orderId)).toMatchObject({
      status: 'cancelled',
      cancel_reason: 'ORDER_TIMEOUT',
    });
  });

  it('answers ORDER_STILL_PROCESSING when even compensation is not done by the deadline; the sweep ends it', async () => {
    vi.useFakeTimers(FAKE_TIMERS);
    h.catalog.behaviour.reserveStock.fail = 1_000;
    h.catalog.behaviour.releaseStock.fail = 1_000;
    const placing = rejection(h.api.placeOrder(customer, lamp()));
    await vi.advanceTimersByTimeAsync(3_000);
    const err = await placing;
    expect(err.code).toBe('ORDER_STILL_PROCESSING');
    const orderId = err.extra.order_id as string;
    expect((await h.api.getOrder(customer, orderId)).status).toBe('pending');

    h.catalog.behaviour.releaseStock.fail = 0;
    await vi.advanceTimersByTimeAsync(20_000);
    await h.runner.sweep();
    expect(await h.api.getOrder(customer, orderId)).toMatchObject({
      status: 'cancelled',
      cancel_reason: 'ORDER_TIMEOUT',
    });
    expect(h.catalog.held('lamp')).toBe(0);
  });
});

describe('reading orders', () => {
  it('the owner and admins see an order; anyone else is told it does not exist', async () => {
    const order = await h.api.placeOrder(customer, lamp());
    expect(await h.api.getOrder(customer, order.id)).toEqual(order);
    expect(await h.api.getOrder(admin, order.id)).toEqual(order);
    expect((await rejection(h.api.getOrder(otherCustomer, order.id))).code).toBe('ORDER_NOT_FOUND');
    expect((await rejection(h.api.getOrderEvents(otherCustomer, order.id))).code).toBe('ORDER_NOT_FOUND');
    expect((await rejection(h.api.getOrder(customer, 'no-such-order'))).code).toBe('ORDER_NOT_FOUND');
    expect((await rejection(h.api.getOrder({ requestId: 'r' }, order.id))).code).toBe('UNAUTHORIZED');
    expect((await h.api.getOrderEvents(admin, order.id)).length).toBe(4);
  });

  it('a pending order without a reservation has no prices yet', async () => {
    const gate = createGate();
    h.catalog.behaviour.reserveStock.gate = gate.promise;
    const placing = h.api.placeOrder(customer, lamp(2));
    await vi.waitFor(() => expect(h.journal).toEqual(['reserveStock']));
    const [pending] = (await h.api.listOrders(customer, { limit: 10 })).items;
    expect(pending).toMatchObject({
      status: 'pending',
      total_minor: null,
      items: [{ product_id: 'lamp', quantity: 2, unit_price_minor: null }],
    });
    gate.open();
    expect((await placing).total_minor).toBe(2598);
  });

  it('lists the caller’s orders newest first, page by page; admins may list anyone’s', async () => {
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await h.api.placeOrder(customer, lamp())).id);
    await h.api.placeOrder(otherCustomer, lamp());
    const first = await h.api.listOrders(customer, { limit: 2 });
    expect(first.items.map((o) => o.id)).toEqual([ids[4], ids[3]]);
    const second = await h.api.listOrders(customer, { limit: 2, cursor: first.next_cursor! });
    expect(second.items.map((o) => o.id)).toEqual([ids[2], ids[1]]);
    const third = await h.api.listOrders(customer, { limit: 2, cursor: second.next_cursor! });
    expect(third).toEqual({ items: [expect.objectContaining({ id: ids[0] })], next_cursor: null });

    expect((await h.api.listOrders(admin, { limit: 10, user_id: 'user-1' })).items).toHaveLength(5);
    expect((await h.api.listOrders(customer, { limit: 10, user_id: 'user-1' })).items).toHaveLength(5);
    expect((await rejection(h.api.listOrders(customer, { limit: 10, user_id: 'user-2' }))).code).toBe(
      'FORBIDDEN',
    );
    expect((await rejection(h.api.listOrders(customer, { limit: 0 }))).code).toBe('VALIDATION_FAILED');
    expect((await rejection(h.api.listOrders(customer, { limit: 10, cursor: '!!' }))).code).toBe(
      'INVALID_CURSOR',
    );
  });
});
