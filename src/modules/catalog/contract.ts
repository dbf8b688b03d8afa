import type { CallContext } from '../../platform/context.ts';
import { defineErrors } from '../../platform/errors.ts';
import type { MethodNames } from '../../platform/in-process.ts';
import type { Page, PageRequest } from '../../platform/pagination.ts';

/** A product. Money is integer minor units; the edge writes it per API version. */
export interface Product {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly price_minor: number;
  readonly currency: string;
  readonly stock: number;
  /** Grows by one with every change: the ETag is built from it. */
  readonly version: number;
  readonly created_at: string;
  readonly updated_at: string;
}

export interface CreateProductInput {
  readonly name: string;
  readonly description?: string;
  readonly price_minor: number;
  readonly stock: number;
}

export interface UpdateProductInput {
  readonly name?: string;
  readonly description?: string;
  readonly price_minor?: number;
  readonly stock?: number;
}

/**
 * Takes stock for an order saga. `reservation_id` is the saga id: reserving again with the same id
 * returns the first reservation and takes nothing more.
 * @example { reservation_id: 'ord_1', items: [{ product_id: 'p1', quantity: 2 }] }
 */
export interface ReserveStockInput {
  readonly reservation_id: string;
  readonly items: ReadonlyArray<{ readonly product_id: string; readonly quantity: number }>;
}

/** The stock taken, with each product's price at that moment. */
export interface Reservation {
  readonly reservation_id: string;
  readonly items: ReadonlyArray<{ product_id: string; quantity: number; unit_price_minor: number }>;
  readonly total_minor: number;
  readonly currency: string;
}

/** The catalog module: products, prices and stock. */
export interface CatalogApi {
  listProducts(ctx: CallContext, page: PageRequest): Promise<Page<Product>>;
  /** Raises `PRODUCT_NOT_FOUND`. */
  getProduct(ctx: CallContext, id: string): Promise<Product>;
  /** Admin only (`FORBIDDEN`). */
  createProduct(ctx: CallContext, input: CreateProductInput): Promise<Product>;
  /** Admin only (`FORBIDDEN`); `PRODUCT_NOT_FOUND`. */
  updateProduct(ctx: CallContext, id: string, input: UpdateProductInput): Promise<Product>;
  /**
   * Takes all items or none, never letting stock go below zero. Raises `OUT_OF_STOCK` (with
   * `product_id`), `PRODUCT_NOT_FOUND`, or `RESERVATION_RELEASED` if this id was released before.
   */
  reserveStock(ctx: CallContext, input: ReserveStockInput): Promise<Reservation>;
  /**
   * Gives the stock of a reservation back, once. Releasing an id never reserved records that, so a late
   * reservation with it is refused.
   */
  releaseStock(ctx: CallContext, input: { reservation_id: string }): Promise<{ released: boolean }>;
}

/** Events the catalog module publishes. */
export interface CatalogEvents {
  'catalog.product_created': { product_id: string; version: number };
  /** Any change to a product, its stock included: edge caches drop the product on it. */
  'catalog.product_updated': { product_id: string; version: number };
}

export const catalogErrors = defineErrors({
  PRODUCT_NOT_FOUND: { status: 404, title: 'No such product' },
  OUT_OF_STOCK: { status: 409, title: 'Not enough stock' },
  RESERVATION_RELEASED: { status: 409, title: 'This reservation was already released' },
});

/** Every method of CatalogApi, in one list that every adapter serves. */
export const catalogMethods = [
  'listProducts',
  'getProduct',
  'createProduct',
  'updateProduct',
  'reserveStock',
  'releaseStock',
] as const satisfies MethodNames<CatalogApi>;

/** Methods safe to retry after a transport failure: reads, and writes made idempotent by a key in their input. */
export const catalogIdempotentMethods = [
  'listProducts',
  'getProduct',
  'reserveStock',
  'releaseStock',
] as const satisfies MethodNames<CatalogApi>;
