import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  createProduct,
  eventually,
  expectProblem,
  expectStock,
  listOf,
  type OrderDto,
  type OrderEventDto,
  type PageDto,
  type PaymentDto,
  placeOrder,
  RFC3339_UTC,
  register,
  type ShopAccessor,
} from '../support/http-client.ts';

export function defineOrderLifecycleSuite(shop: ShopAccessor): void {
  describe('reading orders', () => {
    it('the owner and an admin read an order; anyone else gets 404 ORDER_NOT_FOUND', async () => {
      const { client, adminToken } = shop();
      const product = await createProduct(shop());
      const owner = await register(client);
      const stranger = await register(client);
      const order = await placeOrder(client, owner.token, product.id);
      for (const token of [owner.token, adminToken]) {
        const res = await client.request<OrderDto>('GET', `/orders/${order.id}`, { token });
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ id: order.id, user_id: owner.user.id, status: 'confirmed' });
      }
      const asStranger = { token: stranger.token };
      expectProblem(await client.request('GET', `/orders/${order.id}`, asStranger), 404, 'ORDER_NOT_FOUND');
      expectProblem(
        await client.request('GET', `/orders/${order.id}/events`, asStranger),
        404,
        'ORDER_NOT_FOUND',
      );
      expectProblem(
        await client.request('POST', `/orders/${order.id}/cancel`, asStranger),
        404,
        'ORDER_NOT_FOUND',
      );
      expectProblem(
        await client.request('GET', `/orders/${randomUUID()}`, asStranger),
        404,
        'ORDER_NOT_FOUND',
      );
      const still = await client.request<OrderDto>('GET', `/orders/${order.id}`, { token: owner.token });
      expect(still.body.status).toBe('confirmed');
    });

    it("GET /orders lists only the caller's own orders, newest first, by pages", async () => {
      const { client } = shop();
      const product = await createProduct(shop());
      const me = await register(client);
      const other = await register(client);
      const placed: string[] = [];
      for (let i = 0; i < 3; i += 1) placed.push((await placeOrder(client, me.token, product.id)).id);
      await placeOrder(client, other.token, product.id);

      const all = await client.request<PageDto<OrderDto>>('GET', '/orders', { token: me.token });
      expect(all.status).toBe(200);
      expect(all.body.items.map((o) => o.id)).toEqual([...placed].reverse());
      expect(all.body.items.every((o) => o.user_id === me.user.id)).toBe(true);

      const first = await client.request<PageDto<OrderDto>>('GET', '/orders?limit=2', { token: me.token });
      expect(first.body.items.map((o) => o.id)).toEqual([placed[2], placed[1]]);
      const cursor = encodeURIComponent(first.body.next_cursor!);
      const second = await client.request<PageDto<OrderDto>>('GET', `/orders?limit=2&cursor=${cursor}`, {
        token: me.token,
      });
      expect(second.body).toEqual({ items: [expect.objectContaining({ id: placed[0] })], next_cursor: null });
    });

    it("an admin lists a user's orders with ?user_id=", async () => {
      const { client, adminToken } = shop();
      const product = await createProduct(shop());
      const customer = await register(client);
      const order = await placeOrder(client, customer.token, product.id);
      const res = await client.request<PageDto<OrderDto>>('GET', `/orders?user_id=${customer.user.id}`, {
        token: adminToken,
      });
      expect(res.status).toBe(200);
      expect(res.body.items.map((o) => o.id)).toEqual([order.id]);
    });

    it('the events start with OrderPlaced, oldest first, with increasing versions, and grow on cancel', async () => {
      const { client } = shop();
      const product = await createProduct(shop());
      const { token } = await register(client);
      const order = await placeOrder(client, token, product.id);
      const before = listOf<OrderEventDto>(
        (await client.request('GET', `/orders/${order.id}/events`, { token })).body,
      );
      expect(before[0]?.type).toBe('OrderPlaced');
      const versions = before.map((e) => e.version);
      expect(versions).toEqual([...versions].sort((a, b) => a - b));
      expect(new Set(versions).size).toBe(versions.length);
      for (const e of before) expect(e.occurred_at).toMatch(RFC3339_UTC);

      expect((await client.request('POST', `/orders/${order.id}/cancel`, { token })).status).toBe(200);
      const after = listOf<OrderEventDto>(
        (await client.request('GET', `/orders/${order.id}/events`, { token })).body,
      );
      expect(after.slice(0, before.length)).toEqual(before);
      expect(after.length).toBeGreaterThan(before.length);
      expect(after.at(-1)!.version).toBeGreaterThan(before.at(-1)!.version);
    });
  });

  describe('cancelling and shipping', () => {
    it('cancelling a confirmed order refunds the charge and releases the stock', async () => {
      const { client } = shop();
      const product = await createProduct(shop(), { price: 7.5, stock: 3 });
      const { token } = await register(client);
      const order = await placeOrder(client, token, product.id, 3);
      await expectStock(client, product.id, 0);

      const res = await client.request<OrderDto>('POST', `/orders/${order.id}/cancel`, { token });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id: order.id, status: 'cancelled' });
      const read = await client.request<OrderDto>('GET', `/orders/${order.id}`, { token });
      expect(read.body.status).toBe('cancelled');

      await eventually(async () => {
        const payments = await client.request('GET', `/payments?order_id=${order.id}`, { token });
        expect(listOf<PaymentDto>(payments.body)).toEqual(
          expect.arrayContaining([
            expect.objectContaining({ kind: 'charge', amount: 22.5, status: 'succeeded' }),
            expect.objectContaining({ kind: 'refund', amount: 22.5, status: 'succeeded' }),
          ]),
        );
      });
      await expectStock(client, product.id, 3);
    });

    it('cancelling twice is 409 ORDER_NOT_CANCELLABLE and refunds once', async () => {
      const { client } = shop();
      const product = await createProduct(shop());
      const { token } = await register(client);
      const order = await placeOrder(client, token, product.id);
      expect((await client.request('POST', `/orders/${order.id}/cancel`, { token })).status).toBe(200);
      const again = await client.request('POST', `/orders/${order.id}/cancel`, { token });
      expectProblem(again, 409, 'ORDER_NOT_CANCELLABLE');
      const payments = await client.request('GET', `/payments?order_id=${order.id}`, { token });
      expect(listOf<PaymentDto>(payments.body).filter((p) => p.kind === 'refund')).toHaveLength(1);
    });

    it("an admin may cancel a customer's order", async () => {
      const { client, adminToken } = shop();
      const product = await createProduct(shop());
      const { token } = await register(client);
      const order = await placeOrder(client, token, product.id);
      const res = await client.request<OrderDto>('POST', `/orders/${order.id}/cancel`, { token: adminToken });
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('cancelled');
    });

    it('only an admin ships: a customer gets 403, an admin ships a confirmed order', async () => {
      const { client, adminToken } = shop();
      const product = await createProduct(shop());
      const { token } = await register(client);
      const order = await placeOrder(client, token, product.id);
      expectProblem(await client.request('POST', `/orders/${order.id}/ship`, { token }), 403, 'FORBIDDEN');
      const shipped = await client.request<OrderDto>('POST', `/orders/${order.id}/ship`, {
        token: adminToken,
      });
      expect(shipped.status).toBe(200);
      expect(shipped.body).toMatchObject({ id: order.id, status: 'shipped' });
      const read = await client.request<OrderDto>('GET', `/orders/${order.id}`, { token });
      expect(read.body.status).toBe('shipped');
    });

    it('a shipped order cannot be cancelled (409) nor shipped again (409)', async () => {
      const { client, adminToken } = shop();
      const product = await createProduct(shop());
      const { token } = await register(client);
      const order = await placeOrder(client, token, product.id);
      expect((await client.request('POST', `/orders/${order.id}/ship`, { token: adminToken })).status).toBe(
        200,
      );
      const cancel = await client.request('POST', `/orders/${order.id}/cancel`, { token });
      expectProblem(cancel, 409, 'ORDER_NOT_CANCELLABLE');
      const reship = await client.request('POST', `/orders/${order.id}/ship`, { token: adminToken });
      expectProblem(reship, 409, 'ORDER_NOT_SHIPPABLE');
      const read = await client.request<OrderDto>('GET', `/orders/${order.id}`, { token });
      expect(read.body.status).toBe('shipped');
    });

    it('a cancelled order cannot be shipped (409 ORDER_NOT_SHIPPABLE)', async () => {
      const { client, adminToken } = shop();
      const product = await createProduct(shop());
      const { token } = await register(client);
      const order = await placeOrder(client, token, product.id);
      expect((await client.request('POST', `/orders/${order.id}/cancel`, { token })).status).toBe(200);
      const res = await client.request('POST', `/orders/${order.id}/ship`, { token: adminToken });
      expectProblem(res, 409, 'ORDER_NOT_SHIPPABLE');
    });
  });
}
