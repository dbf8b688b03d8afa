import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Order, OrdersApi } from '../../src/modules/orders/index.ts';
import type { CallContext } from '../../src/platform/context.ts';
import { hasCode } from '../../src/platform/errors.ts';

export interface OrdersHarness {
  readonly api: OrdersApi;
  /** Creates a product in the catalog the orders module calls; returns its id. */
  seedProduct(input: { price_minor: number; stock: number }): Promise<string>;
  /** The product's stock as the catalog says it now. */
  stockOf(productId: string): Promise<number>;
  /** The order's charges and refunds as payments says them, oldest first. */
  paymentsOf(orderId: string): Promise<Array<{ kind: string; amount_minor: number; status: string }>>;
  close(): Promise<void>;
}

const admin: CallContext = { requestId: 'contract-admin', actor: { id: 'admin-1', role: 'admin' } };
const anonymous: CallContext = { requestId: 'contract-anonymous' };
/** A customer of its own, so tests do not see each other's orders. */
const newCustomer = (): CallContext => ({
  requestId: `contract-${randomUUID()}`,
  actor: { id: `customer-${randomUUID()}`, role: 'customer' },
});

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => expect.fail(`expected a rejection, got ${JSON.stringify(value)}`),
    (error: unknown) => error,
  );
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<Record<string, unknown>> {
  const error = await failure(promise);
  expect(hasCode(error, code), `expected ${code}, got ${String(error)}`).toBe(true);
  return (error as { extra: Record<string, unknown> }).extra;
}

/**
 * What every adapter of the orders module must do, over any transport, with the real catalog and
 * payments behind it. Tests share one module and make their own customers and products.
 */
export function defineOrdersContract(adapterName: string, setup: () => Promise<OrdersHarness>): void {
  describe(`orders contract (${adapterName})`, () => {
    let harness: OrdersHarness | undefined;
    const h = (): OrdersHarness => {
      if (!harness) throw new Error('the orders module did not start');
      return harness;
    };
    const api = () => h().api;
    const product = (stock = 10, price_minor = 1299) => h().seedProduct({ price_minor, stock });
    const buy = (
      ctx: CallContext,
      productId: string,
      quantity = 1,
      extra: Partial<Parameters<OrdersApi['placeOrder']>[1]> = {},
    ) =>
      api().placeOrder(ctx, {
        items: [{ product_id: productId, quantity }],
        payment_method: 'pm_card_visa',
        ...extra,
      });

    beforeAll(async () => {
      harness = await setup();
    });
    afterAll(async () => {
      await harness?.close();
    });

    describe('placeOrder', () => {
      it('reserves, charges and confirms: the order carries the prices of the moment', async () => {
        const ctx = newCustomer();
        const lamp = await product(10, 1299);
        const book = await product(10, 800);
        const order = await api().placeOrder(ctx, {
          items: [
            { product_id: lamp, quantity: 2 },
            { product_id: book, quantity: 1 },
          ],
          payment_method: 'pm_card_visa',
        });
        expect(order).toMatchObject({
          id: expect.any(String),
          user_id: ctx.actor!.id,
          status: 'confirmed',
          total_minor: 3398,
          currency: 'USD',
          cancel_reason: null,
        });
        expect([...order.items].sort((a, b) => a.unit_price_minor! - b.unit_price_minor!)).toEqual([
          { product_id: book, quantity: 1, unit_price_minor: 800 },
          { product_id: lamp, quantity: 2, unit_price_minor: 1299 },
        ]);
        expect(await h().stockOf(lamp)).toBe(8);
        expect(await h().paymentsOf(order.id)).toEqual([
          expect.objectContaining({ kind: 'charge', amount_minor: 3398, status: 'succeeded' }),
        ]);
      });

      it('out of stock: OUT_OF_STOCK with the order id, nothing charged, the order recorded cancelled', async () => {
        const ctx = newCustomer();
        const chair = await product(1);
        const extra = await expectCode(buy(ctx, chair, 2), 'OUT_OF_STOCK');
        const orderId = extra.order_id as string;
        expect(await api().getOrder(ctx, orderId)).toMatchObject({
          status: 'cancelled',
          cancel_reason: 'OUT_OF_STOCK',
        });
        expect(await h().stockOf(chair)).toBe(1);
        expect(await h().paymentsOf(orderId)).toEqual([]);
      });

      it('an unknown product: PRODUCT_NOT_FOUND with the order id', async () => {
        const ctx = newCustomer();
        const extra = await expectCode(buy(ctx, `missing-${randomUUID()}`), 'PRODUCT_NOT_FOUND');
        expect((await api().getOrder(ctx, extra.order_id as string)).cancel_reason).toBe('PRODUCT_NOT_FOUND');
      });

      it('a declined card: PAYMENT_DECLINED, the stock given back', async () => {
        const ctx = newCustomer();
        const lamp = await product(5);
        const extra = await expectCode(
          buy(ctx, lamp, 2, { payment_method: 'pm_card_chargeDeclined' }),
          'PAYMENT_DECLINED',
        );
        expect(await h().stockOf(lamp)).toBe(5);
        expect(await api().getOrder(ctx, extra.order_id as string)).toMatchObject({
          status: 'cancelled',
          cancel_reason: 'PAYMENT_DECLINED',
        });
        expect(await h().paymentsOf(extra.order_id as string)).toEqual([
          expect.objectContaining({ kind: 'charge', status: 'failed' }),
        ]);
      });

      it('authorization and validation: UNAUTHORIZED, FORBIDDEN, VALIDATION_FAILED', async () => {
        const ctx = newCustomer();
        const lamp = await product();
        await expectCode(buy(anonymous, lamp), 'UNAUTHORIZED');
        await expectCode(buy(ctx, lamp, 1, { user_id: 'someone-else' }), 'FORBIDDEN');
        await expectCode(buy(ctx, lamp, 0), 'VALIDATION_FAILED');
        await expectCode(buy(ctx, lamp, 1001), 'VALIDATION_FAILED');
        await expectCode(
          api().placeOrder(ctx, { items: [], payment_method: 'pm_card_visa' }),
          'VALIDATION_FAILED',
        );
        expect(await h().stockOf(lamp)).toBe(10);
        expect((await buy(ctx, lamp, 1, { user_id: ctx.actor!.id })).status).toBe('confirmed');
      });

      it('an idempotency key: the same answer for the same request, REUSED for another, per user', async () => {
        const ctx = newCustomer();
        const lamp = await product();
        const first = await buy(ctx, lamp, 1, { idempotency_key: 'attempt-1' });
        expect(await buy(ctx, lamp, 1, { idempotency_key: 'attempt-1' })).toEqual(first);
        expect(await h().stockOf(lamp)).toBe(9);
        await expectCode(buy(ctx, lamp, 2, { idempotency_key: 'attempt-1' }), 'IDEMPOTENCY_KEY_REUSED');
        const someoneElse = await buy(newCustomer(), lamp, 1, { idempotency_key: 'attempt-1' });
        expect(someoneElse.id).not.toBe(first.id);
        expect((await api().listOrders(ctx, { limit: 10 })).items).toHaveLength(1);
      });

      it('an idempotency key replays a failure with the same code and order id', async () => {
        const ctx = newCustomer();
        const lamp = await product();
        const input = { payment_method: 'pm_card_chargeDeclined' as const, idempotency_key: 'declined-1' };
        const first = await expectCode(buy(ctx, lamp, 1, input), 'PAYMENT_DECLINED');
        const again = await expectCode(buy(ctx, lamp, 1, input), 'PAYMENT_DECLINED');
        expect(again.order_id).toBe(first.order_id);
      });
    });

    describe('reading orders', () => {
      it('getOrder: the owner and admins; anyone else ORDER_NOT_FOUND', async () => {
        const ctx = newCustomer();
        const order = await buy(ctx, await product());
        expect(await api().getOrder(ctx, order.id)).toEqual(order);
        expect(await api().getOrder(admin, order.id)).toEqual(order);
        await expectCode(api().getOrder(newCustomer(), order.id), 'ORDER_NOT_FOUND');
        await expectCode(api().getOrder(ctx, `missing-${randomUUID()}`), 'ORDER_NOT_FOUND');
        await expectCode(api().getOrder(anonymous, order.id), 'UNAUTHORIZED');
      });

      it('listOrders: own orders newest first, by pages; user_id for admins only', async () => {
        const ctx = newCustomer();
        const lamp = await product(20);
        const placed: Order[] = [];
        for (let i = 0; i < 3; i++) placed.push(await buy(ctx, lamp));
        const first = await api().listOrders(ctx, { limit: 2 });
        expect(first.items.map((o) => o.id)).toEqual([placed[2]!.id, placed[1]!.id]);
        const rest = await api().listOrders(ctx, { limit: 2, cursor: first.next_cursor! });
        expect(rest).toEqual({ items: [placed[0]], next_cursor: null });
        const byAdmin = await api().listOrders(admin, { limit: 10, user_id: ctx.actor!.id });
        expect(byAdmin.items.map((o) => o.id)).toEqual(placed.map((o) => o.id).reverse());
        await expectCode(api().listOrders(newCustomer(), { limit: 10, user_id: ctx.actor!.id }), 'FORBIDDEN');
        await expectCode(api().listOrders(anonymous, { limit: 10 }), 'UNAUTHORIZED');
      });

      it('getOrderEvents: the history oldest first, for the owner and admins', async () => {
        const ctx = newCustomer();
        const order = await buy(ctx, await product());
        const events = await api().getOrderEvents(ctx, order.id);
        expect(events.map((e) => e.type)).toEqual([
          'OrderPlaced',
          'StockReserved',
          'PaymentCharged',
          'OrderConfirmed',
        ]);
        expect(events.map((e) => e.version)).toEqual([1, 2, 3, 4]);
        for (const event of events) expect(Date.parse(event.occurred_at)).not.toBeNaN();
        expect(await api().getOrderEvents(admin, order.id)).toEqual(events);
        await expectCode(api().getOrderEvents(newCustomer(), order.id), 'ORDER_NOT_FOUND');
      });
    });

    describe('cancelOrder', () => {
      it('refunds and gives the stock back; a second cancel is ORDER_NOT_CANCELLABLE', async () => {
        const ctx = newCustomer();
        const lamp = await product(10);
        const order = await buy(ctx, lamp, 3);
        const cancelled = await api().cancelOrder(ctx, order.id);
        expect(cancelled).toMatchObject({
          id: order.id,
          status: 'cancelled',
          cancel_reason: 'CANCELLED_BY_USER',
        });
        expect(await h().stockOf(lamp)).toBe(10);
        expect((await h().paymentsOf(order.id)).map((p) => [p.kind, p.amount_minor])).toEqual([
          ['charge', 3897],
          ['refund', 3897],
        ]);
        await expectCode(api().cancelOrder(ctx, order.id), 'ORDER_NOT_CANCELLABLE');
        expect((await h().paymentsOf(order.id)).length).toBe(2);
      });

      it('another customer gets ORDER_NOT_FOUND; an admin may cancel', async () => {
        const ctx = newCustomer();
        const order = await buy(ctx, await product());
        await expectCode(api().cancelOrder(newCustomer(), order.id), 'ORDER_NOT_FOUND');
        expect((await api().cancelOrder(admin, order.id)).status).toBe('cancelled');
      });

      it('a failed order is not cancellable', async () => {
        const ctx = newCustomer();
        const extra = await expectCode(buy(ctx, await product(0)), 'OUT_OF_STOCK');
        await expectCode(api().cancelOrder(ctx, extra.order_id as string), 'ORDER_NOT_CANCELLABLE');
      });
    });

    describe('shipOrder', () => {
      it('admins ship a confirmed order once; customers may not', async () => {
        const ctx = newCustomer();
        const order = await buy(ctx, await product());
        await expectCode(api().shipOrder(ctx, order.id), 'FORBIDDEN');
        expect(await api().shipOrder(admin, order.id)).toMatchObject({ id: order.id, status: 'shipped' });
        await expectCode(api().shipOrder(admin, order.id), 'ORDER_NOT_SHIPPABLE');
        await expectCode(api().cancelOrder(ctx, order.id), 'ORDER_NOT_CANCELLABLE');
        await expectCode(api().shipOrder(admin, `missing-${randomUUID()}`), 'ORDER_NOT_FOUND');
      });

      it('a cancelled order is not shippable', async () => {
        const ctx = newCustomer();
        const order = await buy(ctx, await product());
        await api().cancelOrder(ctx, order.id);
        await expectCode(api().shipOrder(admin, order.id), 'ORDER_NOT_SHIPPABLE');
      });
    });
  });
}
