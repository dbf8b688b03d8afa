import type { Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { catalogMigrations } from '../../../migrations/catalog/index.ts';
import type { CallContext } from '../../platform/context.ts';
import { type ModuleDatabase, migrateToLatest, openDatabase } from '../../platform/db/database.ts';
import { hasCode } from '../../platform/errors.ts';
import { createOutbox } from '../../platform/events/outbox.ts';
import { MAX_AMOUNT_MINOR } from '../../platform/money.ts';
import type { CatalogApi, CatalogEvents } from './contract.ts';
import type { CatalogDatabase } from './repository.ts';
import { createCatalogService, MAX_STOCK } from './service.ts';

const admin: CallContext = { requestId: 'r-admin', actor: { id: 'u-admin', role: 'admin' } };
const customer: CallContext = { requestId: 'r-customer', actor: { id: 'u-1', role: 'customer' } };
const anonymous: CallContext = { requestId: 'r-anon' };

describe('catalog service: products', () => {
  let database: ModuleDatabase<CatalogDatabase>;
  let service: CatalogApi;
  let now: Date;

  beforeEach(async () => {
    database = openDatabase<CatalogDatabase>({ url: 'sqlite::memory:' });
    await migrateToLatest(database.db as Kysely<unknown>, 'catalog', catalogMigrations);
    now = new Date('2030-01-01T00:00:00.000Z');
    const outbox = createOutbox<CatalogDatabase, CatalogEvents>(database.db, 'catalog');
    service = createCatalogService({ db: database.db, outbox, clock: { now: () => now } });
  });
  afterEach(async () => {
    await database.close();
  });

  async function outboxEvents() {
    const rows = await database.db.selectFrom('outbox').select('envelope').orderBy('seq').execute();
    return rows.map((row) => JSON.parse(row.envelope) as { type: string; data: unknown; request_id: string });
  }

  async function rejection(promise: Promise<unknown>) {
    return promise.then(
      () => expect.fail('expected a rejection'),
      (error: unknown) => error,
    );
  }

  it('creates a product at version 1 and emits product_created in the same transaction', async () => {
    const product = await service.createProduct(admin, { name: 'Lamp', price_minor: 1299, stock: 5 });
    expect(product).toEqual({
      id: expect.any(String),
      name: 'Lamp',
      description: '',
      price_minor: 1299,
      currency: 'USD',
      stock: 5,
      version: 1,
      created_at: '2030-01-01T00:00:00.000Z',
      updated_at: '2030-01-01T00:00:00.000Z',
    });
    expect(await service.getProduct(anonymous, product.id)).toEqual(product);
    expect(await outboxEvents()).toEqual([
      expect.objectContaining({
        type: 'catalog.product_created',
        data: { product_id: product.id, version: 1 },
        request_id: 'r-admin',
      }),
    ]);
  });

  it('refuses writes without an admin, and writes nothing', async () => {
    const input = { name: 'Lamp', price_minor: 1299, stock: 5 };
    expect(hasCode(await rejection(service.createProduct(anonymous, input)), 'UNAUTHORIZED')).toBe(true);
    expect(hasCode(await rejection(service.createProduct(customer, input)), 'FORBIDDEN')).toBe(true);
    const product = await service.createProduct(admin, input);
    expect(
      hasCode(await rejection(service.updateProduct(customer, product.id, { stock: 0 })), 'FORBIDDEN'),
    ).toBe(true);
    expect(
      hasCode(await rejection(service.updateProduct(anonymous, product.id, { stock: 0 })), 'UNAUTHORIZED'),
    ).toBe(true);
    expect((await service.getProduct(anonymous, product.id)).stock).toBe(5);
    expect(await database.db.selectFrom('products').select('id').execute()).toHaveLength(1);
    expect(await outboxEvents()).toHaveLength(1);
  });

  it.each([
    ['an empty name', { name: '' }, '/name'],
    ['a blank name', { name: '   ' }, '/name'],
    ['a name of 201 characters', { name: 'x'.repeat(201) }, '/name'],
    ['a description of 2001 characters', { description: 'd'.repeat(2001) }, '/description'],
    ['a negative price', { price_minor: -1 }, '/price_minor'],
    ['a fractional price', { price_minor: 12.5 }, '/price_minor'],
    ['a price over the maximum', { price_minor: MAX_AMOUNT_MINOR + 1 }, '/price_minor'],
    ['negative stock', { stock: -1 }, '/stock'],
    ['fractional stock', { stock: 1.5 }, '/stock'],
    ['stock over the maximum', { stock: MAX_STOCK + 1 }, '/stock'],
    ['a read-only field', { version: 7 }, '/version'],
  ])('refuses %s with VALIDATION_FAILED naming the field', async (_label, override, path) => {
    const input = { name: 'Lamp', price_minor: 100, stock: 1, ...override };
    const error = await rejection(service.createProduct(admin, input));
    expect(hasCode(error, 'VALIDATION_FAILED')).toBe(true);
    expect((error as { extra: { errors: Array<{ path: string }> } }).extra.errors).toContainEqual(
      expect.objectContaining({ path }),
    );
    expect(await outboxEvents()).toHaveLength(0);
  });

  it('accepts the edges of every range', async () => {
    const product = await service.createProduct(admin, {
      name: 'é'.repeat(200),
      description: 'd'.repeat(2000),
      price_minor: MAX_AMOUNT_MINOR,
      stock: MAX_STOCK,
    });
    expect(product).toMatchObject({ price_minor: MAX_AMOUNT_MINOR, stock: MAX_STOCK });
    const free = await service.createProduct(admin, { name: 'Free sample', price_minor: 0, stock: 0 });
    expect(free).toMatchObject({ price_minor: 0, stock: 0 });
  });

  it('bumps version and updated_at on every update and emits product_updated with the new version', async () => {
    const product = await service.createProduct(admin, { name: 'Lamp', price_minor: 1299, stock: 5 });
    now = new Date('2030-01-01T00:05:00.000Z');
    const renamed = await service.updateProduct(admin, product.id, {
      name: 'Desk lamp',
      description: 'Warm',
    });
    expect(renamed).toMatchObject({
      name: 'Desk lamp',
      description: 'Warm',
      price_minor: 1299,
      stock: 5,
      version: 2,
      created_at: product.created_at,
      updated_at: '2030-01-01T00:05:00.000Z',
    });
    const restocked = await service.updateProduct(admin, product.id, { stock: 9, price_minor: 999 });
    expect(restocked).toMatchObject({ stock: 9, price_minor: 999, version: 3 });
    expect((await outboxEvents()).map((e) => [e.type, e.data])).toEqual([
      ['catalog.product_created', { product_id: product.id, version: 1 }],
      ['catalog.product_updated', { product_id: product.id, version: 2 }],
      ['catalog.product_updated', { product_id: product.id, version: 3 }],
    ]);
  });

  it('refuses an update of nothing, and of a product that does not exist', async () => {
    const product = await service.createProduct(admin, { name: 'Lamp', price_minor: 1299, stock: 5 });
    expect(hasCode(await rejection(service.updateProduct(admin, product.id, {})), 'VALIDATION_FAILED')).toBe(
      true,
    );
    const missing = await rejection(service.updateProduct(admin, 'no-such-product', { stock: 1 }));
    expect(hasCode(missing, 'PRODUCT_NOT_FOUND')).toBe(true);
    expect((await service.getProduct(anonymous, product.id)).version).toBe(1);
    expect(await outboxEvents()).toHaveLength(1);
  });

  it('raises PRODUCT_NOT_FOUND for an unknown id', async () => {
    expect(hasCode(await rejection(service.getProduct(anonymous, 'nope')), 'PRODUCT_NOT_FOUND')).toBe(true);
  });

  it('lists products oldest first with keyset pages of limit + 1 rows', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await service.createProduct(admin, { name: `P${i}`, price_minor: i, stock: i })).id);
    }
    const first = await service.listProducts(anonymous, { limit: 2 });
    expect(first.items.map((p) => p.id)).toEqual(ids.slice(0, 2));
    expect(first.next_cursor).toEqual(expect.any(String));
    const second = await service.listProducts(anonymous, { limit: 2, cursor: first.next_cursor! });
    expect(second.items.map((p) => p.id)).toEqual(ids.slice(2, 4));
    const last = await service.listProducts(anonymous, { limit: 2, cursor: second.next_cursor! });
    expect(last.items.map((p) => p.id)).toEqual(ids.slice(4));
    expect(last.next_cursor).toBeNull();
    const all = await service.listProducts(anonymous, { limit: 5 });
    expect(all.items).toHaveLength(5);
    expect(all.next_cursor).toBeNull();
  });

  it('refuses a bad cursor and a limit out of range', async () => {
    expect(
      hasCode(
        await rejection(service.listProducts(anonymous, { limit: 2, cursor: 'not a cursor' })),
        'INVALID_CURSOR',
      ),
    ).toBe(true);
    for (const limit of [0, 101, 1.5]) {
      expect(hasCode(await rejection(service.listProducts(anonymous, { limit })), 'VALIDATION_FAILED')).toBe(
        true,
      );
    }
  });
});
