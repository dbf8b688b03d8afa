import { describe, expect, it } from 'vitest';
import {
  createProduct,
  expectProblem,
  expectValidationProblem,
  type MoneyDto,
  type OrderDto,
  type ProductDto,
  register,
  type ShopAccessor,
  uniqueName,
} from '../support/http-client.ts';

const USD_1299: MoneyDto = { amount_minor: 1299, currency: 'USD' };

const invalidPrices: Array<{ what: string; path: string; price: unknown }> = [
  { what: 'v1 with three decimals', path: '/v1/products', price: 12.999 },
  { what: 'v1 with the v2 object', path: '/v1/products', price: USD_1299 },
  { what: 'v2 with a decimal number', path: '/v2/products', price: 12.99 },
  {
    what: 'v2 with a fractional amount_minor',
    path: '/v2/products',
    price: { amount_minor: 12.5, currency: 'USD' },
  },
  { what: 'v2 in another currency', path: '/v2/products', price: { amount_minor: 1299, currency: 'EUR' } },
];

export function defineVersionsSuite(shop: ShopAccessor): void {
  describe('API versions', () => {
    it('/v1 writes the price as a decimal number and says API-Version: 1', async () => {
      const product = await createProduct(shop(), { price: 12.99 });
      const res = await shop().client.request<ProductDto>('GET', `/v1/products/${product.id}`);
      expect(res.status).toBe(200);
      expect(res.body.price).toBe(12.99);
      expect(res.headers.get('api-version')).toBe('1');
    });

    it('/v2 writes the price as { amount_minor, currency } and says API-Version: 2', async () => {
      const product = await createProduct(shop(), { price: 12.99 });
      const res = await shop().client.request<ProductDto<MoneyDto>>('GET', `/v2/products/${product.id}`);
      expect(res.status).toBe(200);
      expect(res.body.price).toEqual(USD_1299);
      expect(res.headers.get('api-version')).toBe('2');
    });

    it('an unprefixed path is v1, and v2 with the header API-Version: 2', async () => {
      const { client } = shop();
      const product = await createProduct(shop(), { price: 12.99 });
      const plain = await client.request<ProductDto>('GET', `/products/${product.id}`);
      expect(plain.body.price).toBe(12.99);
      expect(plain.headers.get('api-version')).toBe('1');
      const v2 = await client.request<ProductDto<MoneyDto>>('GET', `/products/${product.id}`, {
        headers: { 'api-version': '2' },
      });
      expect(v2.status).toBe(200);
      expect(v2.body.price).toEqual(USD_1299);
      expect(v2.headers.get('api-version')).toBe('2');
    });

    it('refuses an API-Version it does not serve with 400 UNSUPPORTED_API_VERSION', async () => {
      const res = await shop().client.request('GET', '/products', { headers: { 'api-version': '3' } });
      expectProblem(res, 400, 'UNSUPPORTED_API_VERSION');
    });

    it('every response says which version answered, errors and operations included', async () => {
      const { client } = shop();
      const answers = await Promise.all([
        client.request('GET', '/products'),
        client.request('GET', '/v2/products?limit=1'),
        client.request('GET', '/users/me'),
        client.request('GET', '/no/such/route'),
        client.request('GET', '/health/live'),
        client.request('POST', '/orders', { body: {} }),
      ]);
      for (const res of answers) expect(res.headers.get('api-version')).toMatch(/^[12]$/);
    });

    it('a v2 create takes { amount_minor, currency } and v1 reads it as a decimal', async () => {
      const { client, adminToken } = shop();
      const res = await client.request<ProductDto<MoneyDto>>('POST', '/v2/products', {
        token: adminToken,
        body: { name: uniqueName('v2 product'), price: USD_1299, stock: 3 },
      });
      expect(res.status).toBe(201);
      expect(res.body.price).toEqual(USD_1299);
      const v1 = await client.request<ProductDto>('GET', `/v1/products/${res.body.id}`);
      expect(v1.body.price).toBe(12.99);
    });

    it.each(invalidPrices)('rejects a price $what with 400', async ({ path, price }) => {
      const { client, adminToken } = shop();
      const res = await client.request('POST', path, {
        token: adminToken,
        body: { name: uniqueName('bad price'), price, stock: 1 },
      });
      expectValidationProblem(res);
    });

    it('a v2 order writes unit_price and total as money', async () => {
      const { client } = shop();
      const product = await createProduct(shop(), { price: 12.99, stock: 5 });
      const { token } = await register(client);
      const res = await client.request<OrderDto<MoneyDto>>('POST', '/v2/orders', {
        token,
        body: { product_id: product.id, quantity: 2 },
      });
      expect(res.status).toBe(201);
      expect(res.headers.get('api-version')).toBe('2');
      expect(res.body.items).toMatchObject([{ product_id: product.id, quantity: 2, unit_price: USD_1299 }]);
      expect(res.body.total).toEqual({ amount_minor: 2598, currency: 'USD' });
      const v1 = await client.request<OrderDto>('GET', `/v1/orders/${res.body.id}`, { token });
      expect(v1.body.total).toBe(25.98);
    });
  });
}
