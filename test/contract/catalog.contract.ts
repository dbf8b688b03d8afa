import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CatalogApi, CreateProductInput, Product } from '../../src/modules/catalog/index.ts';
import type { CallContext } from '../../src/platform/context.ts';
import { hasCode } from '../../src/platform/errors.ts';

export interface CatalogHarness {
  readonly api: CatalogApi;
  close(): Promise<void>;
}

const admin: CallContext = { requestId: 'contract-admin', actor: { id: 'admin-1', role: 'admin' } };
const customer: CallContext = {
  requestId: 'contract-customer',
  actor: { id: 'customer-1', role: 'customer' },
};
const anonymous: CallContext = { requestId: 'contract-anonymous' };

/** Resolves to what `promise` rejected with; fails the test if it resolved. */
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
 * What every adapter of the catalog must do, over any transport. Tests share one catalog and create
 * their own products, so they do not depend on each other.
 */
export function defineCatalogContract(adapterName: string, setup: () => Promise<CatalogHarness>): void {
  describe(`catalog contract (${adapterName})`, () => {
    let harness: CatalogHarness | undefined;
    const api = (): CatalogApi => {
      if (!harness) throw new Error('the catalog did not start');
      return harness.api;
    };
    const seed = (input: Partial<CreateProductInput> = {}): Promise<Product> =>
      api().createProduct(admin, { name: `Product ${randomUUID()}`, price_minor: 1299, stock: 10, ...input });
    const stockOf = async (id: string) => (await api().getProduct(anonymous, id)).stock;
    const reservationId = () => `saga-${randomUUID()}`;

    beforeAll(async () => {
      harness = await setup();
    });
    afterAll(async () => {
      await harness?.close();
    });

    describe('products', () => {
      it('creates a product an anonymous caller can read back', async () => {
        const product = await seed({
          name: 'Desk lamp',
          description: 'Warm light',
          price_minor: 4999,
          stock: 7,
        });
        expect(product).toMatchObject({
          name: 'Desk lamp',
          description: 'Warm light',
          price_minor: 4999,
          currency: 'USD',
          stock: 7,
          version: 1,
        });
        expect(Date.parse(product.created_at)).not.toBeNaN();
        expect(await api().getProduct(anonymous, product.id)).toEqual(product);
      });

      it('lets only an admin create or update', async () => {
        const input = { name: 'Nope', price_minor: 1, stock: 1 };
        await expectCode(api().createProduct(anonymous, input), 'UNAUTHORIZED');
        await expectCode(api().createProduct(customer, input), 'FORBIDDEN');
        const product = await seed();
        await expectCode(api().updateProduct(anonymous, product.id, { stock: 0 }), 'UNAUTHORIZED');
        await expectCode(api().updateProduct(customer, product.id, { stock: 0 }), 'FORBIDDEN');
        expect(await api().getProduct(anonymous, product.id)).toEqual(product);
      });

      it('validates what it stores', async () => {
        await expectCode(seed({ name: '' }), 'VALIDATION_FAILED');
        await expectCode(seed({ price_minor: -1 }), 'VALIDATION_FAILED');
        await expectCode(seed({ price_minor: 1.25 }), 'VALIDATION_FAILED');
        await expectCode(seed({ stock: -1 }), 'VALIDATION_FAILED');
        const product = await seed();
        await expectCode(api().updateProduct(admin, product.id, { stock: 2.5 }), 'VALIDATION_FAILED');
        await expectCode(api().updateProduct(admin, product.id, {}), 'VALIDATION_FAILED');
      });

      it('updates the given fields and grows the version with every change', async () => {
        const product = await seed({ stock: 3 });
        const first = await api().updateProduct(admin, product.id, { price_minor: 500 });
        expect(first).toMatchObject({ name: product.name, price_minor: 500, stock: 3, version: 2 });
        const second = await api().updateProduct(admin, product.id, { stock: 9, description: 'Now in blue' });
        expect(second).toMatchObject({ price_minor: 500, stock: 9, description: 'Now in blue', version: 3 });
        expect(second.updated_at >= product.updated_at).toBe(true);
        expect(second.created_at).toBe(product.created_at);
        expect(await api().getProduct(anonymous, product.id)).toEqual(second);
      });

      it('raises PRODUCT_NOT_FOUND for an unknown product', async () => {
        await expectCode(api().getProduct(anonymous, randomUUID()), 'PRODUCT_NOT_FOUND');
        await expectCode(api().updateProduct(admin, randomUUID(), { stock: 1 }), 'PRODUCT_NOT_FOUND');
      });

      it('lists every product once, in creation order, page by page', async () => {
        const mine = [(await seed()).id, (await seed()).id, (await seed()).id];
        const seen: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await api().listProducts(anonymous, { limit: 2, ...(cursor ? { cursor } : {}) });
          expect(page.items.length).toBeLessThanOrEqual(2);
          seen.push(...page.items.map((p) => p.id));
          cursor = page.next_cursor ?? undefined;
        } while (cursor);
        expect(new Set(seen).size).toBe(seen.length);
        expect(seen.filter((id) => mine.includes(id))).toEqual(mine);
        expect(seen.slice(-3)).toEqual(mine);
      });

      it('refuses a cursor it did not write', async () => {
        await expectCode(api().listProducts(anonymous, { limit: 2, cursor: '!!' }), 'INVALID_CURSOR');
      });
    });

    describe('reserveStock', () => {
      it('takes the stock of every line, at the current prices', async () => {
        const mug = await seed({ price_minor: 250, stock: 10 });
        const pot = await seed({ price_minor: 1000, stock: 2 });
        const id = reservationId();
        const reservation = await api().reserveStock(customer, {
          reservation_id: id,
          items: [
            { product_id: mug.id, quantity: 1 },
            { product_id: pot.id, quantity: 2 },
            { product_id: mug.id, quantity: 2 },
          ],
        });
        expect(reservation).toEqual({
          reservation_id: id,
          items: [
            { product_id: mug.id, quantity: 3, unit_price_minor: 250 },
            { product_id: pot.id, quantity: 2, unit_price_minor: 1000 },
          ],
          total_minor: 2750,
          currency: 'USD',
        });
        expect(await stockOf(mug.id)).toBe(7);
        expect(await stockOf(pot.id)).toBe(0);
        expect((await api().getProduct(anonymous, mug.id)).version).toBe(2);
      });

      it('is idempotent by reservation id: the first reservation again, nothing more taken', async () => {
        const mug = await seed({ price_minor: 250, stock: 10 });
        const id = reservationId();
        const first = await api().reserveStock(customer, {
          reservation_id: id,
          items: [{ product_id: mug.id, quantity: 4 }],
        });
        await api().updateProduct(admin, mug.id, { price_minor: 300 });
        const again = await api().reserveStock(customer, {
          reservation_id: id,
          items: [{ product_id: mug.id, quantity: 4 }],
        });
        expect(again).toEqual(first);
        expect(await stockOf(mug.id)).toBe(6);
      });

      it('raises OUT_OF_STOCK with the product id and takes nothing at all', async () => {
        const plenty = await seed({ stock: 10 });
        const scarce = await seed({ stock: 1 });
        const extra = await expectCode(
          api().reserveStock(customer, {
            reservation_id: reservationId(),
            items: [
              { product_id: plenty.id, quantity: 5 },
              { product_id: scarce.id, quantity: 2 },
            ],
          }),
          'OUT_OF_STOCK',
        );
        expect(extra).toMatchObject({ product_id: scarce.id });
        expect(await stockOf(plenty.id)).toBe(10);
        expect(await stockOf(scarce.id)).toBe(1);
      });

      it('raises PRODUCT_NOT_FOUND with the product id and takes nothing at all', async () => {
        const mug = await seed({ stock: 10 });
        const ghost = randomUUID();
        const extra = await expectCode(
          api().reserveStock(customer, {
            reservation_id: reservationId(),
            items: [
              { product_id: mug.id, quantity: 1 },
              { product_id: ghost, quantity: 1 },
            ],
          }),
          'PRODUCT_NOT_FOUND',
        );
        expect(extra).toMatchObject({ product_id: ghost });
        expect(await stockOf(mug.id)).toBe(10);
      });

      it('refuses a quantity that is not a positive whole number', async () => {
        const mug = await seed({ stock: 10 });
        for (const quantity of [0, -1, 1.5]) {
          await expectCode(
            api().reserveStock(customer, {
              reservation_id: reservationId(),
              items: [{ product_id: mug.id, quantity }],
            }),
            'VALIDATION_FAILED',
          );
        }
        expect(await stockOf(mug.id)).toBe(10);
      });

      it('gives exactly the stock there is to 200 concurrent reservations', async () => {
        const mug = await seed({ stock: 10 });
        const results = await Promise.allSettled(
          Array.from({ length: 200 }, () =>
            api().reserveStock(customer, {
              reservation_id: reservationId(),
              items: [{ product_id: mug.id, quantity: 1 }],
            }),
          ),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
        const refused = results.filter((r) => r.status === 'rejected');
        expect(refused.every((r) => hasCode(r.reason, 'OUT_OF_STOCK'))).toBe(true);
        expect(await stockOf(mug.id)).toBe(0);
      });

      it('takes stock once for concurrent reservations with the same id', async () => {
        const mug = await seed({ stock: 10 });
        const id = reservationId();
        const results = await Promise.all(
          Array.from({ length: 20 }, () =>
            api().reserveStock(customer, {
              reservation_id: id,
              items: [{ product_id: mug.id, quantity: 3 }],
            }),
          ),
        );
        for (const result of results) expect(result).toEqual(results[0]);
        expect(await stockOf(mug.id)).toBe(7);
      });
    });

    describe('releaseStock', () => {
      it('gives the stock back once', async () => {
        const mug = await seed({ stock: 10 });
        const id = reservationId();
        await api().reserveStock(customer, {
          reservation_id: id,
          items: [{ product_id: mug.id, quantity: 4 }],
        });
        expect(await api().releaseStock(customer, { reservation_id: id })).toEqual({ released: true });
        expect(await stockOf(mug.id)).toBe(10);
        expect(await api().releaseStock(customer, { reservation_id: id })).toEqual({ released: false });
        expect(await stockOf(mug.id)).toBe(10);
      });

      it('releases once under concurrency', async () => {
        const mug = await seed({ stock: 10 });
        const id = reservationId();
        await api().reserveStock(customer, {
          reservation_id: id,
          items: [{ product_id: mug.id, quantity: 4 }],
        });
        const results = await Promise.all(
          Array.from({ length: 20 }, () => api().releaseStock(customer, { reservation_id: id })),
        );
        expect(results.filter((r) => r.released)).toHaveLength(1);
        expect(await stockOf(mug.id)).toBe(10);
      });

      it('refuses to reserve again under a released id', async () => {
        const mug = await seed({ stock: 10 });
        const id = reservationId();
        await api().reserveStock(customer, {
          reservation_id: id,
          items: [{ product_id: mug.id, quantity: 1 }],
        });
        await api().releaseStock(customer, { reservation_id: id });
        await expectCode(
          api().reserveStock(customer, { reservation_id: id, items: [{ product_id: mug.id, quantity: 1 }] }),
          'RESERVATION_RELEASED',
        );
        expect(await stockOf(mug.id)).toBe(10);
      });

      it('records the release of an id never reserved, so a late reservation is refused', async () => {
        const mug = await seed({ stock: 10 });
        const id = reservationId();
        expect(await api().releaseStock(customer, { reservation_id: id })).toEqual({ released: false });
        await expectCode(
          api().reserveStock(customer, { reservation_id: id, items: [{ product_id: mug.id, quantity: 1 }] }),
          'RESERVATION_RELEASED',
        );
        expect(await stockOf(mug.id)).toBe(10);
      });
    });
  });
}
