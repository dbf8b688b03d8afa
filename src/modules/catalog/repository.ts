import type { Kysely, Selectable } from 'kysely';
import type { EventTables } from '../../platform/events/tables.ts';
import type { Product, Reservation } from './contract.ts';

export interface ProductsTable {
  id: string;
  name: string;
  description: string;
  price_minor: number;
  currency: string;
  stock: number;
  version: number;
  created_at: string;
  updated_at: string;
}

export interface ReservationsTable {
  reservation_id: string;
  state: 'reserved' | 'released';
  /** JSON of `Reservation['items']`, unit prices included. */
  items: string;
  total_minor: number;
  currency: string;
  created_at: string;
  updated_at: string;
}

export interface CatalogTables {
  products: ProductsTable;
  reservations: ReservationsTable;
}

export type CatalogDatabase = CatalogTables & EventTables;

type ProductRow = Selectable<ProductsTable>;
type ReservationRow = Selectable<ReservationsTable>;

/** Postgres hands `bigint` back as a string; SQLite as a number. */
export function toProduct(row: ProductRow): Product {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    price_minor: Number(row.price_minor),
    currency: row.currency,
    stock: Number(row.stock),
    version: Number(row.version),
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

export function toReservation(row: ReservationRow): Reservation {
  return {
    reservation_id: row.reservation_id,
    items: JSON.parse(row.items) as Reservation['items'],
    total_minor: Number(row.total_minor),
    currency: row.currency,
  };
}

/** Queries on the catalog's own tables; `db` may be a transaction. */
export const catalogRepository = {
  findProduct(db: Kysely<CatalogDatabase>, id: string): Promise<ProductRow | undefined> {
    return db.selectFrom('products').selectAll().where('id', '=', id).executeTakeFirst();
  },

  /** `limit` rows after `afterId`, in id (creation) order. */
  listProducts(
    db: Kysely<CatalogDatabase>,
    afterId: string | undefined,
    limit: number,
  ): Promise<ProductRow[]> {
    let query = db.selectFrom('products').selectAll().orderBy('id', 'asc').limit(limit);
    if (afterId !== undefined) query = query.where('id', '>', afterId);
    return query.execute();
  },

  async insertProduct(db: Kysely<CatalogDatabase>, row: ProductRow): Promise<void> {
    await db.insertInto('products').values(row).execute();
  },

  /** Writes the changed fields and bumps the version; the row as it is now, if it exists. */
  updateProduct(
    db: Kysely<CatalogDatabase>,
    id: string,
    changes: Partial<Pick<ProductRow, 'name' | 'description' | 'price_minor' | 'stock'>>,
    now: string,
  ): Promise<ProductRow | undefined> {
    return db
      .updateTable('products')
      .set((eb) => ({ ...changes, version: eb('version', '+', 1), updated_at: now }))
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
  },

  /**
   * Takes `quantity` only if that much is left, in one statement, so no interleaving can oversell.
   * Undefined when the product is missing or short.
   */
  takeStock(
    db: Kysely<CatalogDatabase>,
    id: string,
    quantity: number,
    now: string,
  ): Promise<Pick<ProductRow, 'price_minor' | 'currency' | 'version'> | undefined> {
    return db
      .updateTable('products')
      .set((eb) => ({ stock: eb('stock', '-', quantity), version: eb('version', '+', 1), updated_at: now }))
      .where('id', '=', id)
      .where('stock', '>=', quantity)
      .returning(['price_minor', 'currency', 'version'])
      .executeTakeFirst();
  },

  /** Gives stock back; the new version, or undefined if the product is gone. */
  async returnStock(
    db: Kysely<CatalogDatabase>,
    id: string,
    quantity: number,
    now: string,
  ): Promise<number | undefined> {
    const row = await db
      .updateTable('products')
      .set((eb) => ({ stock: eb('stock', '+', quantity), version: eb('version', '+', 1), updated_at: now }))
      .where('id', '=', id)
      .returning('version')
      .executeTakeFirst();
    return row === undefined ? undefined : Number(row.version);
  },

  findReservation(db: Kysely<CatalogDatabase>, reservationId: string): Promise<ReservationRow | undefined> {
    return db
      .selectFrom('reservations')
      .selectAll()
      .where('reservation_id', '=', reservationId)
      .executeTakeFirst();
  },

  async insertReservation(db: Kysely<CatalogDatabase>, row: ReservationRow): Promise<void> {
    await db.insertInto('reservations').values(row).execute();
  },

  /**
   * Marks a reserved reservation released; false when it was released already. On Postgres a concurrent
   * release waits for this row's lock and then sees it released, so only one release returns the stock.
   */
  async markReleased(db: Kysely<CatalogDatabase>, reservationId: string, now: string): Promise<boolean> {
    const result = await db
      .updateTable('reservations')
      .set({ state: 'released', updated_at: now })
      .where('reservation_id', '=', reservationId)
      .where('state', '=', 'reserved')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  },
};
