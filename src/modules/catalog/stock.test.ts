import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Kysely, sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { catalogMigrations } from '../../../migrations/catalog/index.ts';
import type { CallContext } from '../../platform/context.ts';
import { type ModuleDatabase, migrateToLatest, openDatabase } from '../../platform/db/database.ts';
import { isUniqueViolation } from '../../platform/db/errors.ts';
import { hasCode } from '../../platform/errors.ts';
import { createOutbox } from '../../platform/events/outbox.ts';
import type { CatalogApi, CatalogEvents } from './contract.ts';
import type { CatalogDatabase } from './repository.ts';
import { createCatalogService } from './service.ts';

const admin: CallContext = { requestId: 'r-admin', actor: { id: 'u-admin', role: 'admin' } };
const saga: CallContext = { requestId: 'r-saga' };

describe('catalog service: stock reservations', () => {
  let dir: string;
  let database: ModuleDatabase<CatalogDatabase>;
  let service: CatalogApi;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'catalog-stock-'));
    database = openDatabase<CatalogDatabase>({ url: `sqlite:${join(dir, 'catalog.db')}` });
    await migrateToLatest(database.db as Kysely<unknown>, 'catalog', catalogMigrations);
    const outbox = createOutbox<CatalogDatabase, CatalogEvents>(database.db, 'catalog');
    service = createCatalogService({ db: database.db, outbox });
  });
  afterEach(async () => {
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const product = (stock: number, price_minor = 250) =>
    service.createProduct(admin, { name: 'Mug', price_minor, stock });
  const stockOf = async (id: string) => (await service.getProduct(saga, id)).stock;
  const rejection = (promise: Promise<unknown>) =>
    promise.then(
      () => expect.fail('expected a rejection'),
      (error: unknown) => error,
    );
  const updatesAfterCreation = async () => {
    const rows = await database.db
      .selectFrom('outbox')
      .select('envelope')
      .where('type', '=', 'catalog.product_updated')
      .orderBy('seq')
      .execute();
    return rows.map((row) => (JSON.parse(row.envelope) as { data: unknown }).data);
  };

  it('takes merged lines, records unit prices and total, and emits product_updated per product', async () => {
    const mug = await product(10, 250);
    const pot = await product(3, 1000);
    const reservation = await service.reserveStock(saga, {
      reservation_id: 'saga-1',
      items: [
        { product_id: mug.id, quantity: 2 },
        { product_id: pot.id, quantity: 1 },
        { product_id: mug.id, quantity: 3 },
      ],
    });
    expect(reservation).toEqual({
      reservation_id: 'saga-1',
      items: [
        { product_id: mug.id, quantity: 5, unit_price_minor: 250 },
        { product_id: pot.id, quantity: 1, unit_price_minor: 1000 },
      ],
      total_minor: 2250,
      currency: 'USD',
    });
    expect(await stockOf(mug.id)).toBe(5);
    expect(await stockOf(pot.id)).toBe(2);
    expect((await service.getProduct(saga, mug.id)).version).toBe(2);
    expect(await updatesAfterCreation()).toEqual(
      expect.arrayContaining([
        { product_id: mug.id, version: 2 },
        { product_id: pot.id, version: 2 },
      ]),
    );
    expect(await updatesAfterCreation()).toHaveLength(2);
  });

  it('returns the first reservation for the same id, at its first prices, and takes nothing more', async () => {
    const mug = await product(10, 250);
    const first = await service.reserveStock(saga, {
      reservation_id: 'saga-2',
      items: [{ product_id: mug.id, quantity: 4 }],
    });
    await service.updateProduct(admin, mug.id, { price_minor: 999 });
    const again = await service.reserveStock(saga, {
      reservation_id: 'saga-2',
      items: [{ product_id: mug.id, quantity: 7 }],
    });
    expect(again).toEqual(first);
    expect(await stockOf(mug.id)).toBe(6);
  });

  it('takes all or nothing: a short line rolls back the lines taken before it', async () => {
    const plenty = await product(10);
    const scarce = await product(1);
    const error = await rejection(
      service.reserveStock(saga, {
        reservation_id: 'saga-3',
        items: [
          { product_id: plenty.id, quantity: 2 },
          { product_id: scarce.id, quantity: 2 },
        ],
      }),
    );
    expect(hasCode(error, 'OUT_OF_STOCK')).toBe(true);
    expect((error as { extra: unknown }).extra).toEqual({ product_id: scarce.id });
    expect(await stockOf(plenty.id)).toBe(10);
    expect(await stockOf(scarce.id)).toBe(1);
    expect(await updatesAfterCreation()).toEqual([]);
    expect(await database.db.selectFrom('reservations').selectAll().execute()).toEqual([]);
  });

  it('raises PRODUCT_NOT_FOUND with the product id and takes nothing', async () => {
    const mug = await product(10);
    const error = await rejection(
      service.reserveStock(saga, {
        reservation_id: 'saga-4',
        items: [
          { product_id: mug.id, quantity: 1 },
          { product_id: 'ghost', quantity: 1 },
        ],
      }),
    );
    expect(hasCode(error, 'PRODUCT_NOT_FOUND')).toBe(true);
    expect((error as { extra: unknown }).extra).toEqual({ product_id: 'ghost' });
    expect(await stockOf(mug.id)).toBe(10);
  });

  it.each([
    ['no items', []],
    ['a zero quantity', [{ product_id: 'p', quantity: 0 }]],
    ['a negative quantity', [{ product_id: 'p', quantity: -3 }]],
    ['a fractional quantity', [{ product_id: 'p', quantity: 1.5 }]],
    ['an empty product id', [{ product_id: '', quantity: 1 }]],
  ])('refuses %s with VALIDATION_FAILED', async (_label, items) => {
    const error = await rejection(service.reserveStock(saga, { reservation_id: 'saga-v', items }));
    expect(hasCode(error, 'VALIDATION_FAILED')).toBe(true);
  });

  it('releases once: stock comes back, the state is released, product_updated is emitted', async () => {
    const mug = await product(10);
    await service.reserveStock(saga, {
      reservation_id: 'saga-5',
      items: [{ product_id: mug.id, quantity: 4 }],
    });
    expect(await service.releaseStock(saga, { reservation_id: 'saga-5' })).toEqual({ released: true });
    expect(await stockOf(mug.id)).toBe(10);
    expect(await service.releaseStock(saga, { reservation_id: 'saga-5' })).toEqual({ released: false });
    expect(await stockOf(mug.id)).toBe(10);
    expect(await updatesAfterCreation()).toEqual([
      { product_id: mug.id, version: 2 },
      { product_id: mug.id, version: 3 },
    ]);
    const row = await database.db
      .selectFrom('reservations')
      .select('state')
      .where('reservation_id', '=', 'saga-5')
      .executeTakeFirstOrThrow();
    expect(row.state).toBe('released');
    const late = await rejection(
      service.reserveStock(saga, { reservation_id: 'saga-5', items: [{ product_id: mug.id, quantity: 1 }] }),
    );
    expect(hasCode(late, 'RESERVATION_RELEASED')).toBe(true);
    expect(await stockOf(mug.id)).toBe(10);
  });

  it('records the release of an unknown id, so a late reservation with it is refused', async () => {
    const mug = await product(10);
    expect(await service.releaseStock(saga, { reservation_id: 'saga-6' })).toEqual({ released: false });
    const late = await rejection(
      service.reserveStock(saga, { reservation_id: 'saga-6', items: [{ product_id: mug.id, quantity: 1 }] }),
    );
    expect(hasCode(late, 'RESERVATION_RELEASED')).toBe(true);
    expect(await stockOf(mug.id)).toBe(10);
    expect(await service.releaseStock(saga, { reservation_id: 'saga-6' })).toEqual({ released: false });
  });

  it('gives exactly 10 of 200 concurrent reservations of 1 against stock 10', async () => {
    const mug = await product(10);
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) =>
        service.reserveStock(saga, {
          reservation_id: `race-${i}`,
          items: [{ product_id: mug.id, quantity: 1 }],
        }),
      ),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    expect(won).toHaveLength(10);
    expect(lost.every((r) => hasCode(r.reason, 'OUT_OF_STOCK'))).toBe(true);
    expect(await stockOf(mug.id)).toBe(0);
    expect(await database.db.selectFrom('reservations').select('reservation_id').execute()).toHaveLength(10);
  });

  it('keeps stock from going below zero in the schema too', async () => {
    const mug = await product(1);
    const error = await rejection(
      sql`update products set stock = stock - 2 where id = ${mug.id}`.execute(database.db),
    );
    expect((error as { code?: string }).code).toBe('SQLITE_CONSTRAINT_CHECK');
    expect(isUniqueViolation(error)).toBe(false);
    expect(await stockOf(mug.id)).toBe(1);
  });

  it('tells a key violation from other failures', async () => {
    await service.releaseStock(saga, { reservation_id: 'dup' });
    const error = await rejection(
      database.db
        .insertInto('reservations')
        .values({
          reservation_id: 'dup',
          state: 'released',
          items: '[]',
          total_minor: 0,
          currency: 'USD',
          created_at: 'x',
          updated_at: 'x',
        })
        .execute(),
    );
    expect(isUniqueViolation(error)).toBe(true);
  });
});
