import type { Kysely } from 'kysely';
import { type Clock, isoNow, systemClock } from '../../platform/clock.ts';
import type { CallContext } from '../../platform/context.ts';
import { isUniqueViolation } from '../../platform/db/errors.ts';
import { platformErrors } from '../../platform/errors.ts';
import type { Outbox } from '../../platform/events/outbox.ts';
import { newId } from '../../platform/ids.ts';
import { DEFAULT_CURRENCY, MAX_AMOUNT_MINOR } from '../../platform/money.ts';
import { decodeCursor, MAX_LIMIT, toPage } from '../../platform/pagination.ts';
import {
  type CatalogApi,
  type CatalogEvents,
  type CreateProductInput,
  catalogErrors,
  type Reservation,
  type ReserveStockInput,
  type UpdateProductInput,
} from './contract.ts';
import { type CatalogDatabase, catalogRepository as repo, toProduct, toReservation } from './repository.ts';

export interface CatalogServiceDeps {
  readonly db: Kysely<CatalogDatabase>;
  readonly outbox: Outbox<CatalogDatabase, CatalogEvents>;
  readonly clock?: Clock;
}

export const MAX_STOCK = 1_000_000;
const NAME_MAX = 200;
const DESCRIPTION_MAX = 2000;

/** The catalog's use cases. Authorization is checked here, from `ctx.actor`, whatever the transport. */
export function createCatalogService(deps: CatalogServiceDeps): CatalogApi {
  const { db, outbox } = deps;
  const clock = deps.clock ?? systemClock;

  return {
    async listProducts(_ctx, page) {
      if (!Number.isInteger(page.limit) || page.limit < 1 || page.limit > MAX_LIMIT) {
        throw invalid([{ path: '/limit', message: `must be an integer from 1 to ${MAX_LIMIT}` }]);
      }
      const after = decodeCursor(page.cursor);
      const rows = await repo.listProducts(db, after, page.limit + 1);
      return toPage(rows, page.limit, (row) => row.id, toProduct);
    },

    async getProduct(_ctx, id) {
      const row = await repo.findProduct(db, id);
      if (!row) throw notFound(id);
      return toProduct(row);
    },

    async createProduct(ctx, input) {
      requireAdmin(ctx);
      const fields = validateProductInput(input, true) as Required<CreateProductInput>;
      const now = isoNow(clock);
      const row = {
        id: newId(),
        name: fields.name,
        description: fields.description ?? '',
        price_minor: fields.price_minor,
        currency: DEFAULT_CURRENCY,
        stock: fields.stock,
        version: 1,
        created_at: now,
        updated_at: now,
      };
      await outbox.transaction(async (trx, emit) => {
        await repo.insertProduct(trx, row);
        emit('catalog.product_created', { product_id: row.id, version: row.version }, ctx);
      });
      return toProduct(row);
    },

    async updateProduct(ctx, id, input) {
      requireAdmin(ctx);
      const changes = validateProductInput(input, false);
      const row = await outbox.transaction(async (trx, emit) => {
        const updated = await repo.updateProduct(trx, id, changes, isoNow(clock));
        if (!updated) throw notFound(id);
        emit('catalog.product_updated', { product_id: id, version: Number(updated.version) }, ctx);
        return updated;
      });
      return toProduct(row);
    },

    async reserveStock(ctx, input) {
      const lines = validateReservation(input);
      return retryOnUniqueViolation(() =>
        outbox.transaction(async (trx, emit) => {
          const existing = await repo.findReservation(trx, input.reservation_id);
          if (existing) {
            if (existing.state === 'released') throw released(input.reservation_id);
            return toReservation(existing);
          }
          const now = isoNow(clock);
          const prices = new Map<string, number>();
          // Rows are locked in id order, so two reservations on Postgres cannot deadlock.
          const byId = [...lines].sort((a, b) => compare(a.product_id, b.product_id));
          for (const { product_id, quantity } of byId) {
            const taken = await repo.takeStock(trx, product_id, quantity, now);
            if (!taken) {
              // Throwing rolls back every line taken before this one.
              const exists = await repo.findProduct(trx, product_id);
              throw exists
                ? catalogErrors.OUT_OF_STOCK(`Not enough stock of product ${product_id}`, { product_id })
                : notFound(product_id);
            }
            prices.set(product_id, Number(taken.price_minor));
            emit('catalog.product_updated', { product_id, version: Number(taken.version) }, ctx);
          }
          const items = lines.map((line) => ({ ...line, unit_price_minor: prices.get(line.product_id)! }));
          const total = items.reduce((sum, item) => sum + item.quantity * item.unit_price_minor, 0);
          if (!Number.isSafeInteger(total)) {
            throw invalid([{ path: '/items', message: 'the total is too large' }]);
          }
          const reservation: Reservation = {
            reservation_id: input.reservation_id,
            items,
            total_minor: total,
            currency: DEFAULT_CURRENCY,
          };
          await repo.insertReservation(trx, {
            reservation_id: reservation.reservation_id,
            state: 'reserved',
            items: JSON.stringify(items),
            total_minor: total,
            currency: reservation.currency,
            created_at: now,
            updated_at: now,
          });
          return reservation;
        }),
      );
    },

    async releaseStock(ctx, input) {
      checkReservationId(input.reservation_id);
      return retryOnUniqueViolation(() =>
        outbox.transaction(async (trx, emit) => {
          const existing = await repo.findReservation(trx, input.reservation_id);
          const now = isoNow(clock);
          if (!existing) {
            // A tombstone: a reservation arriving after its release is refused.
            await repo.insertReservation(trx, {
              reservation_id: input.reservation_id,
              state: 'released',
              items: '[]',
              total_minor: 0,
              currency: DEFAULT_CURRENCY,
              created_at: now,
              updated_at: now,
            });
            return { released: false };
          }
          if (existing.state === 'released') return { released: false };
          // Marked first: a release that read `reserved` before another committed must not return stock.
          if (!(await repo.markReleased(trx, input.reservation_id, now))) return { released: false };
          const items = [...toReservation(existing).items].sort((a, b) =>
            compare(a.product_id, b.product_id),
          );
          // In id order, as reservations lock them, so the two cannot deadlock on Postgres.
          for (const item of items) {
            const version = await repo.returnStock(trx, item.product_id, item.quantity, now);
            if (version !== undefined) {
              emit('catalog.product_updated', { product_id: item.product_id, version }, ctx);
            }
          }
          return { released: true };
        }),
      );
    },
  };
}

function requireAdmin(ctx: CallContext): void {
  if (!ctx.actor) throw platformErrors.UNAUTHORIZED('Sign in as an admin');
  if (ctx.actor.role !== 'admin') throw platformErrors.FORBIDDEN('Admins only');
}

function notFound(id: string) {
  return catalogErrors.PRODUCT_NOT_FOUND(`No product ${id}`, { product_id: id });
}

function released(reservationId: string) {
  return catalogErrors.RESERVATION_RELEASED(`Reservation ${reservationId} was released`, {
    reservation_id: reservationId,
  });
}

/**
 * Two writers racing on a new key (only possible across processes): the loser's transaction rolled
 * back, and running it again sees the winner's row.
 */
async function retryOnUniqueViolation<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    return work();
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

type Problem = { path: string; message: string };

function invalid(problems: Problem[]) {
  return platformErrors.VALIDATION_FAILED(problems.map((p) => `${p.path} ${p.message}`).join('; '), {
    errors: problems,
  });
}

const PRODUCT_FIELDS = new Set(['name', 'description', 'price_minor', 'stock']);

/** Checks a create (every required field) or an update (at least one field) as the edge would. */
function validateProductInput(input: UpdateProductInput, create: boolean): UpdateProductInput {
  const problems: Problem[] = [];
  const given = Object.entries(input).filter(([, value]) => value !== undefined);
  for (const [key] of given) {
    if (!PRODUCT_FIELDS.has(key)) problems.push({ path: `/${key}`, message: 'is not a field you may set' });
  }
  const { name, description, price_minor, stock } = input;
  if (create || name !== undefined) checkText(problems, '/name', name, 1, NAME_MAX);
  if (name !== undefined && typeof name === 'string' && name.trim() === '') {
    problems.push({ path: '/name', message: 'must not be blank' });
  }
  if (description !== undefined) checkText(problems, '/description', description, 0, DESCRIPTION_MAX);
  if (create || price_minor !== undefined)
    checkInteger(problems, '/price_minor', price_minor, MAX_AMOUNT_MINOR);
  if (create || stock !== undefined) checkInteger(problems, '/stock', stock, MAX_STOCK);
  if (!create && given.length === 0) problems.push({ path: '', message: 'must change at least one field' });
  if (problems.length > 0) throw invalid(problems);
  return Object.fromEntries(given) as UpdateProductInput;
}

function checkText(problems: Problem[], path: string, value: unknown, min: number, max: number): void {
  // Counted in code points, as the edge's JSON Schema counts them.
  const length = typeof value === 'string' ? [...value].length : -1;
  if (length < min || length > max) {
    problems.push({ path, message: `must be a string of ${min} to ${max} characters` });
  }
}

function checkInteger(problems: Problem[], path: string, value: unknown, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    problems.push({ path, message: `must be an integer from 0 to ${max}` });
  }
}

function checkReservationId(id: unknown): void {
  if (typeof id !== 'string' || id.length === 0 || id.length > 255) {
    throw invalid([{ path: '/reservation_id', message: 'must be a string of 1 to 255 characters' }]);
  }
}

/** Validates a reservation and merges lines of the same product, keeping first-seen order. */
function validateReservation(input: ReserveStockInput): Array<{ product_id: string; quantity: number }> {
  checkReservationId(input.reservation_id);
  const problems: Problem[] = [];
  if (!Array.isArray(input.items) || input.items.length === 0) {
    problems.push({ path: '/items', message: 'must list at least one item' });
  }
  const merged = new Map<string, number>();
  for (const [i, item] of (Array.isArray(input.items) ? input.items : []).entries()) {
    if (typeof item?.product_id !== 'string' || item.product_id.length === 0) {
      problems.push({ path: `/items/${i}/product_id`, message: 'must be a non-empty string' });
      continue;
    }
    if (!Number.isInteger(item.quantity) || item.quantity < 1 || item.quantity > MAX_STOCK) {
      problems.push({ path: `/items/${i}/quantity`, message: `must be an integer from 1 to ${MAX_STOCK}` });
      continue;
    }
    merged.set(item.product_id, (merged.get(item.product_id) ?? 0) + item.quantity);
  }
  if (problems.length > 0) throw invalid(problems);
  return [...merged].map(([product_id, quantity]) => ({ product_id, quantity }));
}
