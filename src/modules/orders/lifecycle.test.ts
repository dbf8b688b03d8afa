import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { findSaga } from './repository.ts';
import {
  admin,
  createGate,
  createHarness,
  customer,
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

describe('cancelOrder', () => {
  it('refunds, then releases, then cancels with CANCELLED_BY_USER', async () => {
    const order = await h.api.placeOrder(customer, lamp(2));
    const cancelled = await h.api.cancelOrder(customer, order.id);
    expect(cancelled).toMatchObject({
      id: order.id,
      status: 'cancelled',
      cancel_reason: 'CANCELLED_BY_USER',
    });
    expect(h.journal).toEqual(['reserveStock', 'charge', 'refund', 'releaseStock']);
    expect(h.catalog.held('lamp')).toBe(0);
    expect(h.payments.net()).toBe(0);
    const events = await h.api.getOrderEvents(customer, order.id);
    expect(events.slice(4).map((e) => e.type)).toEqual([
      'CancellationRequested',
      'PaymentRefunded',
      'StockReleased',
      'OrderCancelled',
    ]);
    expect((await h.outboxEvents()).at(-1)).toEqual({
      type: 'orders.order_cancelled',
      data: { order_id: order.id, user_id: 'user-1', reason: 'CANCELLED_BY_USER' },
    });
    expect(await findSaga(h.db, order.id)).toMatchObject({ kind: 'cancel', status: 'done' });
  });

  it('a second cancel is ORDER_NOT_CANCELLABLE and changes nothing', async () => {
    const order = await h.api.placeOrder(customer, lamp());
    await h.api.cancelOrder(customer, order.id);
    expect((await rejection(h.api.cancelOrder(customer, order.id))).code).toBe('ORDER_NOT_CANCELLABLE');
    expect(h.payments.behaviour.refund.calls).toBe(1);
    expect((await h.api.getOrderEvents(customer, order.id)).length).toBe(8);
  });

  it('another customer gets ORDER_NOT_FOUND; an admin may cancel', async () => {
    const order = await h.api.placeOrder(customer, lamp());
    expect((await rejection(h.api.cancelOrder(otherCustomer, order.id))).code).toBe('ORDER_NOT_FOUND');
    expect((await h.api.cancelOrder(admin, order.id)).status).toBe('cancelled');
  });

  it('a failed order and an order still being placed are not cancellable', async () => {
    const failed = await rejection(
      h.api.placeOrder(customer, { items: [{ product_id: 'chair', quantity: 9 }], payment_method: visa }),
    );
    expect((await rejection(h.api.cancelOrder(customer, failed.extra.order_id as string))).code).toBe(
      'ORDER_NOT_CANCELLABLE',
    );

    const gate = createGate();
    h.payments.behaviour.charge.gate = gate.promise;
    const placing = h.api.placeOrder(customer, lamp());
    await vi.waitFor(() => expect(h.journal.at(-1)).toBe('charge'));
    const [pending] = (await h.api.listOrders(customer, { limit: 1 })).items;
    expect((await rejection(h.api.cancelOrder(customer, pending!.id))).code).toBe('ORDER_NOT_CANCELLABLE');
    gate.open();
    await placing;
  });

  it('a cancellation under way blocks shipping, and a second cancel joins it', async () => {
    const order = await h.api.placeOrder(customer, lamp());
    const gate = createGate();
    h.payments.behaviour.refund.gate = gate.promise;
    const first = h.api.cancelOrder(customer, order.id);
    await vi.waitFor(() => expect(h.journal.at(-1)).toBe('refund'));
    expect((await rejection(h.api.shipOrder(admin, order.id))).code).toBe('ORDER_NOT_SHIPPABLE');
    const second = h.api.cancelOrder(customer, order.id);
    gate.open();
    expect((await first).status).toBe('cancelled');
    expect((await second).status).toBe('cancelled');
    expect(h.payments.refunds.size).toBe(1);
  });
});

describe('shipOrder', () => {
  it('only admins ship, only confirmed orders, once', async () => {
    const order = await h.api.placeOrder(customer, lamp());
    expect((await rejection(h.api.shipOrder(customer, order.id))).code).toBe('FORBIDDEN');
    const shipped = await h.api.shipOrder(admin, order.id);
    expect(shipped).toMatchObject({ id: order.id, status: 'shipped' });
    expect((await h.outboxEvents()).at(-1)).toEqual({
      type: 'orders.order_shipped',
      data: { order_id: order.id, user_id: 'user-1' },
    });
    expect((await rejection(h.api.shipOrder(admin, order.id))).code).toBe('ORDER_NOT_SHIPPABLE');
    expect((await rejection(h.api.cancelOrder(customer, order.id))).code).toBe('ORDER_NOT_CANCELLABLE');
    expect((await rejection(h.api.shipOrder(admin, 'no-such-order'))).code).toBe('ORDER_NOT_FOUND');
  });

  it('a cancelled order cannot be shipped', async () => {
    const order = await h.api.placeOrder(customer, lamp());
    await h.api.cancelOrder(customer, order.id);
    expect((await rejection(h.api.shipOrder(admin, order.id))).code).toBe('ORDER_NOT_SHIPPABLE');
  });

  it('ship and cancel racing: exactly one wins, the other is refused, no event is lost', async () => {
    const order = await h.api.placeOrder(customer, lamp());
    const [ship, cancel] = await Promise.allSettled([
      h.api.shipOrder(admin, order.id),
      h.api.cancelOrder(customer, order.id),
    ]);
    const fulfilled = [ship, cancel].filter((r) => r.status === 'fulfilled');
    expect(fulfilled).toHaveLength(1);
    const refused = [ship, cancel].find((r) => r.status === 'rejected')?.reason;
    expect(refused.code).toBe(ship.status === 'rejected' ? 'ORDER_NOT_SHIPPABLE' : 'ORDER_NOT_CANCELLABLE');
    const events = await h.api.getOrderEvents(admin, order.id);
    expect(events.map((e) => e.version)).toEqual(events.map((_, i) => i + 1));
  });
});
