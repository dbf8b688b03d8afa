import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  createProduct,
  expectProblem,
  expectStock,
  expectValidationProblem,
  listOf,
  type OrderDto,
  type PaymentDto,
  placeOrder,
  register,
  type ShopAccessor,
} from '../support/http-client.ts';

const invalidQuantities: unknown[] = [0, 1001, 1.5, '1', -1, null];

export function defineOrdersSuite(shop: ShopAccessor): void {
  describe('placing orders', () => {
    it('the single-item form places a confirmed order at the current price', async () => {
      const { client } = shop();
      const product = await createProduct(shop(), { price: 4.25, stock: 10 });
      const { user, token } = await register(client);
      const res = await client.request<OrderDto>('POST', '/orders', {
        token,
        body: { product_id: product.id, quantity: 3 },
      });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        user_id: user.id,
        items: [{ product_id: product.id, quantity: 3, unit_price: 4.25 }],
        total: 12.75,
        status: 'confirmed',
      });
      await expectStock(client, product.id, 7);
    });

    it('the items form places several lines and totals them', async () => {
      const { client } = shop();
      const a = await createProduct(shop(), { price: 1.5, stock: 10 });
      const b = await createProduct(shop(), { price: 20, stock: 10 });
      const { token } = await register(client);
      const res = await client.request<OrderDto>('POST', '/orders', {
        token,
        body: {
          items: [
            { product_id: a.id, quantity: 2 },
            { product_id: b.id, quantity: 1 },
          ],
          payment_method: 'pm_card_visa',
        },
      });
      expect(res.status).toBe(201);
      expect(res.body.status).toBe('confirmed');
      expect(res.body.total).toBe(23);
      expect(res.body.items).toHaveLength(2);
    });

    it('keeps the unit_price of the moment the order was placed', async () => {
      const { client, adminToken } = shop();
      const product = await createProduct(shop(), { price: 10, stock: 10 });
      const { token } = await register(client);
      const order = await placeOrder(client, token, product.id, 1);
      const patched = await client.request('PATCH', `/products/${product.id}`, {
        token: adminToken,
        body: { price: 99 },
      });
      expect(patched.status).toBe(200);
      const read = await client.request<OrderDto>('GET', `/orders/${order.id}`, { token });
      expect(read.body.items[0]?.unit_price).toBe(10);
      expect(read.body.total).toBe(10);
    });

    it("accepts the caller's own user_id and refuses another's with 403 FORBIDDEN", async () => {
      const { client } = shop();
      const product = await createProduct(shop());
      const me = await register(client);
      const other = await register(client);
      const own = await client.request('POST', '/orders', {
        token: me.token,
        body: { user_id: me.user.id, product_id: product.id, quantity: 1 },
      });
      expect(own.status).toBe(201);
      const res = await client.request('POST', '/orders', {
        token: me.token,
        body: { user_id: other.user.id, product_id: product.id, quantity: 1 },
      });
      expectProblem(res, 403, 'FORBIDDEN');
    });

    it.each(invalidQuantities)('rejects quantity %j with 400', async (quantity) => {
      const { client } = shop();
      const product = await createProduct(shop());
      const { token } = await register(client);
      const res = await client.request('POST', '/orders', {
        token,
        body: { items: [{ product_id: product.id, quantity }] },
      });
      expectValidationProblem(res);
    });

    it('rejects more than 50 lines, and no lines, with 400', async () => {
      const { client } = shop();
      const { token } = await register(client);
      // Unknown ids: were the limit missing, the answer would be 404, not 400.
      const items = Array.from({ length: 51 }, () => ({ product_id: randomUUID(), quantity: 1 }));
      expectValidationProblem(await client.request('POST', '/orders', { token, body: { items } }));
      expectValidationProblem(await client.request('POST', '/orders', { token, body: { items: [] } }));
    });

    it('rejects read-only fields such as unit_price and status with 400', async () => {
      const { client } = shop();
      const product = await createProduct(shop());
      const { token } = await register(client);
      const withPrice = { items: [{ product_id: product.id, quantity: 1, unit_price: 0.01 }] };
      expectValidationProblem(await client.request('POST', '/orders', { token, body: withPrice }));
      const withStatus = { product_id: product.id, quantity: 1, status: 'shipped' };
      expectValidationProblem(await client.request('POST', '/orders', { token, body: withStatus }));
      const badMethod = { product_id: product.id, quantity: 1, payment_method: 'pm_card_free' };
      expectValidationProblem(await client.request('POST', '/orders', { token, body: badMethod }));
    });

    it('refuses an anonymous order with 401', async () => {
      const product = await createProduct(shop());
      const res = await shop().client.request('POST', '/orders', {
        body: { product_id: product.id, quantity: 1 },
      });
      expectProblem(res, 401, 'UNAUTHORIZED');
    });

    it('an unknown product is 404 PRODUCT_NOT_FOUND with the order_id of a cancelled order', async () => {
      const { client } = shop();
      const { token } = await register(client);
      const res = await client.request('POST', '/orders', {
        token,
        body: { product_id: randomUUID(), quantity: 1 },
      });
      const problem = expectProblem(res, 404, 'PRODUCT_NOT_FOUND');
      expect(problem.order_id).toEqual(expect.any(String));
      const order = await client.request<OrderDto>('GET', `/orders/${problem.order_id}`, { token });
      expect(order.status).toBe(200);
      expect(order.body.status).toBe('cancelled');
    });

    it('too much quantity is 409 OUT_OF_STOCK: the order is cancelled, nothing charged, no stock taken', async () => {
      const { client } = shop();
      const product = await createProduct(shop(), { stock: 3 });
      const { token } = await register(client);
      const res = await client.request('POST', '/orders', {
        token,
        body: { items: [{ product_id: product.id, quantity: 4 }] },
      });
      const problem = expectProblem(res, 409, 'OUT_OF_STOCK');
      expect(problem.order_id).toEqual(expect.any(String));
      const order = await client.request<OrderDto>('GET', `/orders/${problem.order_id}`, { token });
      expect(order.body.status).toBe('cancelled');
      const payments = await client.request('GET', `/payments?order_id=${problem.order_id}`, { token });
      expect(payments.status).toBe(200);
      expect(listOf<PaymentDto>(payments.body).filter((p) => p.status === 'succeeded')).toEqual([]);
      await expectStock(client, product.id, 3);
      await placeOrder(client, token, product.id, 3);
    });

    it('a declined card is 402 PAYMENT_DECLINED: the order is cancelled and the stock released', async () => {
      const { client } = shop();
      const product = await createProduct(shop(), { stock: 2 });
      const { token } = await register(client);
      const res = await client.request('POST', '/orders', {
        token,
        body: { product_id: product.id, quantity: 2, payment_method: 'pm_card_chargeDeclined' },
      });
      const problem = expectProblem(res, 402, 'PAYMENT_DECLINED');
      expect(problem.order_id).toEqual(expect.any(String));
      const order = await client.request<OrderDto>('GET', `/orders/${problem.order_id}`, { token });
      expect(order.body.status).toBe('cancelled');
      const payments = await client.request('GET', `/payments?order_id=${problem.order_id}`, { token });
      expect(listOf<PaymentDto>(payments.body).filter((p) => p.status === 'succeeded')).toEqual([]);
      await expectStock(client, product.id, 2);
      // The whole stock can be bought again: the reservation really was released.
      await placeOrder(client, token, product.id, 2);
      await expectStock(client, product.id, 0);
    });
  });
}
