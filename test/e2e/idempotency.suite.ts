import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  createProduct,
  expectProblem,
  expectStock,
  expectValidationProblem,
  type OrderDto,
  type PageDto,
  type ProblemDto,
  register,
  type ShopAccessor,
} from '../support/http-client.ts';

export function defineIdempotencySuite(shop: ShopAccessor): void {
  describe('Idempotency-Key', () => {
    it('a retry with the same key and body gets the first answer and places nothing new', async () => {
      const { client } = shop();
      const product = await createProduct(shop(), { stock: 5 });
      const { token } = await register(client);
      const options = {
        token,
        headers: { 'idempotency-key': randomUUID() },
        body: { product_id: product.id, quantity: 2 },
      };
      const first = await client.request<OrderDto>('POST', '/orders', options);
      const retry = await client.request<OrderDto>('POST', '/orders', options);
      expect(first.status).toBe(201);
      expect(retry.status).toBe(201);
      expect(retry.body).toEqual(first.body);
      const mine = await client.request<PageDto<OrderDto>>('GET', '/orders', { token });
      expect(mine.body.items.map((o) => o.id)).toEqual([first.body.id]);
      await expectStock(client, product.id, 3);
    });

    it('a retry of a failed order gets the same problem with the same order_id', async () => {
      const { client } = shop();
      const product = await createProduct(shop(), { stock: 1 });
      const { token } = await register(client);
      const options = {
        token,
        headers: { 'idempotency-key': randomUUID() },
        body: { product_id: product.id, quantity: 2 },
      };
      const first = expectProblem(await client.request('POST', '/orders', options), 409, 'OUT_OF_STOCK');
      const retry = expectProblem(await client.request('POST', '/orders', options), 409, 'OUT_OF_STOCK');
      expect(retry.order_id).toBe(first.order_id);
      const mine = await client.request<PageDto<OrderDto>>('GET', '/orders', { token });
      expect(mine.body.items).toHaveLength(1);
    });

    it('the same key with another body is 422 IDEMPOTENCY_KEY_REUSED', async () => {
      const { client } = shop();
      const product = await createProduct(shop(), { stock: 5 });
      const { token } = await register(client);
      const headers = { 'idempotency-key': randomUUID() };
      const first = await client.request('POST', '/orders', {
        token,
        headers,
        body: { product_id: product.id, quantity: 1 },
      });
      expect(first.status).toBe(201);
      const other = await client.request('POST', '/orders', {
        token,
        headers,
        body: { product_id: product.id, quantity: 2 },
      });
      expectProblem(other, 422, 'IDEMPOTENCY_KEY_REUSED');
      await expectStock(client, product.id, 4);
    });

    it('a key belongs to its caller: another user with the same key places their own order', async () => {
      const { client } = shop();
      const product = await createProduct(shop(), { stock: 5 });
      const a = await register(client);
      const b = await register(client);
      const headers = { 'idempotency-key': randomUUID() };
      const body = { product_id: product.id, quantity: 1 };
      const first = await client.request<OrderDto>('POST', '/orders', { token: a.token, headers, body });
      const second = await client.request<OrderDto>('POST', '/orders', { token: b.token, headers, body });
      expect(first.status).toBe(201);
      expect(second.status).toBe(201);
      expect(second.body.id).not.toBe(first.body.id);
      expect(second.body.user_id).toBe(b.user.id);
    });

    it('two concurrent requests with one key place one order; the other waits or gets 409 IDEMPOTENCY_KEY_IN_USE', async () => {
      const { client } = shop();
      const product = await createProduct(shop(), { stock: 5 });
      const { token } = await register(client);
      const options = {
        token,
        headers: { 'idempotency-key': randomUUID() },
        body: { product_id: product.id, quantity: 1 },
      };
      const answers = await Promise.all([
        client.request<OrderDto | ProblemDto>('POST', '/orders', options),
        client.request<OrderDto | ProblemDto>('POST', '/orders', options),
      ]);
      const created = answers.filter((r) => r.status === 201).map((r) => (r.body as OrderDto).id);
      expect(created.length).toBeGreaterThanOrEqual(1);
      expect(new Set(created).size).toBe(1);
      for (const res of answers.filter((r) => r.status !== 201))
        expectProblem(res, 409, 'IDEMPOTENCY_KEY_IN_USE');
      await expectStock(client, product.id, 4);
    });

    it.each([
      { what: 'longer than 255 characters', key: 'k'.repeat(256) },
      { what: 'empty', key: '' },
      { what: 'with a space', key: 'two words' },
    ])('rejects a key $what with 400', async ({ key }) => {
      const { client } = shop();
      const product = await createProduct(shop(), { stock: 5 });
      const { token } = await register(client);
      const res = await client.request('POST', '/orders', {
        token,
        headers: { 'idempotency-key': key },
        body: { product_id: product.id, quantity: 1 },
      });
      expectValidationProblem(res);
    });

    it('accepts a key of exactly 255 visible characters', async () => {
      const { client } = shop();
      const product = await createProduct(shop(), { stock: 5 });
      const { token } = await register(client);
      const res = await client.request('POST', '/orders', {
        token,
        headers: { 'idempotency-key': `${randomUUID()}-`.padEnd(255, '~') },
        body: { product_id: product.id, quantity: 1 },
      });
      expect(res.status).toBe(201);
    });
  });
}
