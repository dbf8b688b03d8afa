import { describe, expect, it } from 'vitest';
import {
  type Account,
  createProduct,
  expectProblem,
  expectStock,
  type OrderDto,
  type PageDto,
  register,
  type ShopAccessor,
} from '../support/http-client.ts';

const STOCK = 10;
const ORDERS = 200;
const CUSTOMERS = 10;

export function defineRaceSuite(shop: ShopAccessor): void {
  describe('the oversell race', () => {
    it(`${ORDERS} concurrent orders for ${STOCK} items: exactly ${STOCK} confirmed, the rest 409 OUT_OF_STOCK`, async () => {
      const { client } = shop();
      const product = await createProduct(shop(), { stock: STOCK });
      const customers: Account[] = [];
      // One at a time: registration hashes a password, and the shop bounds how many run at once.
      for (let i = 0; i < CUSTOMERS; i += 1) customers.push(await register(client));

      const answers = await Promise.all(
        Array.from({ length: ORDERS }, (_, i) =>
          client.request<OrderDto>('POST', '/orders', {
            token: customers[i % CUSTOMERS]!.token,
            body: { product_id: product.id, quantity: 1 },
          }),
        ),
      );

      const statuses = answers.map((r) => r.status);
      expect(statuses.filter((s) => s >= 500)).toEqual([]);
      const confirmed = answers.filter((r) => r.status === 201);
      const refused = answers.filter((r) => r.status !== 201);
      expect(confirmed).toHaveLength(STOCK);
      expect(refused).toHaveLength(ORDERS - STOCK);
      for (const res of confirmed) expect(res.body.status).toBe('confirmed');
      for (const res of refused)
        expect(expectProblem(res, 409, 'OUT_OF_STOCK').order_id).toEqual(expect.any(String));

      await expectStock(client, product.id, 0);
      let held = 0;
      for (const customer of customers) {
        const mine = await client.request<PageDto<OrderDto>>('GET', '/orders?limit=100', {
          token: customer.token,
        });
        held += mine.body.items.filter((o) => o.status === 'confirmed').length;
      }
      expect(held).toBe(STOCK);
    }, 120_000);
  });
}
