import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  createProduct,
  expectProblem,
  expectValidationProblem,
  type PageDto,
  type ProductDto,
  RFC3339_UTC,
  register,
  type ShopAccessor,
  uniqueName,
} from '../support/http-client.ts';

const invalidProducts: Array<{ what: string; change: Record<string, unknown> }> = [
  { what: 'the read-only field id', change: { id: 'p-1' } },
  { what: 'a negative stock', change: { stock: -1 } },
  { what: 'a fractional stock', change: { stock: 1.5 } },
  { what: 'a price written as a string', change: { price: '12.99' } },
  { what: 'no name', change: { name: undefined } },
];

export function defineCatalogSuite(shop: ShopAccessor): void {
  describe('catalog', () => {
    it('an admin creates a product: 201 with the product', async () => {
      const { client, adminToken } = shop();
      const body = { name: uniqueName('Kettle'), description: 'Boils water', price: 39.5, stock: 7 };
      const res = await client.request<ProductDto>('POST', '/products', { token: adminToken, body });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ id: expect.any(String), ...body });
      expect(res.body.created_at).toMatch(RFC3339_UTC);
      expect(res.body.updated_at).toMatch(RFC3339_UTC);
    });

    it('anyone reads a product; an unknown id is 404 PRODUCT_NOT_FOUND', async () => {
      const { client } = shop();
      const product = await createProduct(shop());
      const res = await client.request<ProductDto>('GET', `/products/${product.id}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual(product);
      expectProblem(await client.request('GET', `/products/${randomUUID()}`), 404, 'PRODUCT_NOT_FOUND');
    });

    it('refuses a customer with 403 FORBIDDEN and no token with 401 UNAUTHORIZED', async () => {
      const { client } = shop();
      const { token } = await register(client);
      const body = { name: uniqueName('Forbidden'), price: 1, stock: 1 };
      expectProblem(await client.request('POST', '/products', { token, body }), 403, 'FORBIDDEN');
      expectProblem(await client.request('POST', '/products', { body }), 401, 'UNAUTHORIZED');
    });

    it.each(invalidProducts)('rejects a product with $what with 400', async ({ change }) => {
      const { client, adminToken } = shop();
      const body = { name: uniqueName('Invalid'), price: 1, stock: 1, ...change };
      expectValidationProblem(await client.request('POST', '/products', { token: adminToken, body }));
    });

    it('an admin PATCHes a product and a read shows the change at once', async () => {
      const { client, adminToken } = shop();
      const product = await createProduct(shop(), { price: 5, stock: 3 });
      const warm = await client.request<ProductDto>('GET', `/products/${product.id}`);
      expect(warm.body.price).toBe(5);
      const change = { name: uniqueName('Renamed'), description: 'new', price: 6.5, stock: 9 };
      const res = await client.request<ProductDto>('PATCH', `/products/${product.id}`, {
        token: adminToken,
        body: change,
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id: product.id, ...change });
      const read = await client.request<ProductDto>('GET', `/products/${product.id}`);
      expect(read.body).toMatchObject({ id: product.id, ...change });
    });

    it('PATCH of an unknown product is 404 PRODUCT_NOT_FOUND; an unknown field is 400', async () => {
      const { client, adminToken } = shop();
      const unknown = await client.request('PATCH', `/products/${randomUUID()}`, {
        token: adminToken,
        body: { stock: 1 },
      });
      expectProblem(unknown, 404, 'PRODUCT_NOT_FOUND');
      const product = await createProduct(shop());
      const res = await client.request('PATCH', `/products/${product.id}`, {
        token: adminToken,
        body: { created_at: '2020-01-01T00:00:00Z' },
      });
      expectValidationProblem(res);
    });

    it('answers a product read with an ETag, a short Cache-Control, and 304 for If-None-Match', async () => {
      const { client } = shop();
      const product = await createProduct(shop());
      const first = await client.request('GET', `/products/${product.id}`);
      const etag = first.headers.get('etag');
      expect(etag).toEqual(expect.any(String));
      expect(first.headers.get('cache-control')).toMatch(/max-age=\d+/);
      const again = await client.request('GET', `/products/${product.id}`, {
        headers: { 'if-none-match': etag! },
      });
      expect(again.status).toBe(304);
      expect(again.text).toBe('');
      expect(again.headers.get('etag')).toBe(etag);
    });

    it('after a PATCH the ETag changes and the old one no longer gets 304', async () => {
      const { client, adminToken } = shop();
      const product = await createProduct(shop(), { stock: 4 });
      const before = await client.request('GET', `/products/${product.id}`);
      const etag = before.headers.get('etag')!;
      const patched = await client.request('PATCH', `/products/${product.id}`, {
        token: adminToken,
        body: { stock: 11 },
      });
      expect(patched.status).toBe(200);
      const after = await client.request<ProductDto>('GET', `/products/${product.id}`, {
        headers: { 'if-none-match': etag },
      });
      expect(after.status).toBe(200);
      expect(after.body.stock).toBe(11);
      expect(after.headers.get('etag')).toEqual(expect.any(String));
      expect(after.headers.get('etag')).not.toBe(etag);
    });

    it('lists products by pages that follow next_cursor without repeats', async () => {
      const { client } = shop();
      const mine = [await createProduct(shop()), await createProduct(shop()), await createProduct(shop())];
      const first = await client.request<PageDto<ProductDto>>('GET', '/products?limit=2');
      expect(first.status).toBe(200);
      expect(first.body.items).toHaveLength(2);
      expect(first.body.next_cursor).toEqual(expect.any(String));
      const second = await client.request<PageDto<ProductDto>>(
        'GET',
        `/products?limit=2&cursor=${encodeURIComponent(first.body.next_cursor!)}`,
      );
      expect(second.status).toBe(200);
      const firstIds = first.body.items.map((p) => p.id);
      expect(second.body.items.some((p) => firstIds.includes(p.id))).toBe(false);

      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
        const page = await client.request<PageDto<ProductDto>>('GET', `/products?limit=100${query}`);
        expect(page.status).toBe(200);
        expect(page.body.items.length).toBeLessThanOrEqual(100);
        seen.push(...page.body.items.map((p) => p.id));
        cursor = page.body.next_cursor;
      } while (cursor !== null);
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen).toEqual(expect.arrayContaining(mine.map((p) => p.id)));
    });

    it.each(['0', '101', 'abc', '-1', '2.5'])(
      'rejects limit=%s with 400 VALIDATION_FAILED',
      async (limit) => {
        expectProblem(
          await shop().client.request('GET', `/products?limit=${limit}`),
          400,
          'VALIDATION_FAILED',
        );
      },
    );

    it('rejects a cursor it did not write with 400', async () => {
      const res = await shop().client.request<{ code: string }>('GET', '/products?cursor=not*a*cursor');
      expect(['INVALID_CURSOR', 'VALIDATION_FAILED']).toContain(res.body.code);
      expectProblem(res, 400, res.body.code);
    });
  });
}
