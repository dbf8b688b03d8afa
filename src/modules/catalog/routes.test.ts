import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { catalogMigrations } from '../../../migrations/catalog/index.ts';
import { type ModuleDatabase, migrateToLatest, openDatabase } from '../../platform/db/database.ts';
import { createOutbox } from '../../platform/events/outbox.ts';
import { createEdge } from '../../platform/http/server.ts';
import { createInProcessCatalog } from './adapters/in-process.ts';
import type { CatalogEvents } from './contract.ts';
import type { CatalogDatabase } from './repository.ts';
import { createCatalogRoutes } from './routes.ts';
import { createCatalogService } from './service.ts';

describe('catalog routes', () => {
  let database: ModuleDatabase<CatalogDatabase>;
  let app: FastifyInstance;
  let adminToken: string;
  let customerToken: string;

  beforeEach(async () => {
    database = openDatabase<CatalogDatabase>({ url: 'sqlite::memory:' });
    await migrateToLatest(database.db as Kysely<unknown>, 'catalog', catalogMigrations);
    const outbox = createOutbox<CatalogDatabase, CatalogEvents>(database.db, 'catalog');
    const api = createInProcessCatalog(createCatalogService({ db: database.db, outbox }));
    app = await createEdge({
      log: pino({ level: 'silent' }),
      bodyLimitBytes: 1_048_576,
      requestTimeoutMs: 10_000,
      auth: {
        secret: 's'.repeat(48),
        ttlSeconds: 900,
        issuer: 'test',
        audience: 'test',
        clockSkewSeconds: 0,
      },
      rateLimit: { max: 10_000, windowSeconds: 60 },
    });
    await app.register(createCatalogRoutes(api));
    await app.ready();
    adminToken = app.issueToken({ id: 'u-admin', role: 'admin' }).access_token;
    customerToken = app.issueToken({ id: 'u-1', role: 'customer' }).access_token;
  });
  afterEach(async () => {
    await app.close();
    await database.close();
  });

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  async function create(payload: Record<string, unknown> = { name: 'Lamp', price: 12.99, stock: 5 }) {
    const res = await app.inject({ method: 'POST', url: '/products', headers: bearer(adminToken), payload });
    expect(res.statusCode).toBe(201);
    return res.json() as { id: string; price: unknown };
  }

  it('creates a product from a v1 body and renders it per version', async () => {
    const created = await create({ name: 'Lamp', price: 12.99, stock: 5, description: 'Warm' });
    expect(created).toEqual({
      id: expect.any(String),
      name: 'Lamp',
      description: 'Warm',
      price: 12.99,
      stock: 5,
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    const v2 = await app.inject({ method: 'GET', url: `/v2/products/${created.id}` });
    expect(v2.json()).toMatchObject({ price: { amount_minor: 1299, currency: 'USD' } });
    const v2Header = await app.inject({
      method: 'GET',
      url: `/products/${created.id}`,
      headers: { 'api-version': '2' },
    });
    expect(v2Header.json()).toMatchObject({ price: { amount_minor: 1299, currency: 'USD' } });
  });

  it('accepts the v2 money object and refuses the other version’s form', async () => {
    const created = await app.inject({
      method: 'POST',
      url: '/v2/products',
      headers: bearer(adminToken),
      payload: { name: 'Kettle', price: { amount_minor: 4500, currency: 'USD' }, stock: 1 },
    });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ price: { amount_minor: 4500, currency: 'USD' } });
    for (const [url, price] of [
      ['/v1/products', { amount_minor: 4500, currency: 'USD' }],
      ['/v2/products', 45],
      ['/v1/products', 12.999],
      ['/v1/products', -1],
    ] as const) {
      const res = await app.inject({
        method: 'POST',
        url,
        headers: bearer(adminToken),
        payload: { name: 'Kettle', price, stock: 1 },
      });
      expect(res.statusCode, `${url} ${JSON.stringify(price)}`).toBe(400);
      expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED', errors: [expect.any(Object)] });
    }
  });

  it.each(['id', 'version', 'created_at', 'updated_at', 'price_minor', 'currency'])(
    'refuses the read-only field %s with 400',
    async (field) => {
      const res = await app.inject({
        method: 'POST',
        url: '/products',
        headers: bearer(adminToken),
        payload: { name: 'Lamp', price: 1, stock: 1, [field]: 'x' },
      });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
    },
  );

  it('lets only an admin write', async () => {
    const body = { name: 'Lamp', price: 1, stock: 1 };
    const anonymous = await app.inject({ method: 'POST', url: '/products', payload: body });
    expect(anonymous.statusCode).toBe(401);
    const customer = await app.inject({
      method: 'POST',
      url: '/products',
      headers: bearer(customerToken),
      payload: body,
    });
    expect(customer.json()).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    const { id } = await create();
    const patch = await app.inject({
      method: 'PATCH',
      url: `/products/${id}`,
      headers: bearer(customerToken),
      payload: { stock: 0 },
    });
    expect(patch.statusCode).toBe(403);
  });

  it('patches some fields, refuses an empty patch, and answers 404 for an unknown product', async () => {
    const { id } = await create();
    const patched = await app.inject({
      method: 'PATCH',
      url: `/products/${id}`,
      headers: bearer(adminToken),
      payload: { price: 9.5, stock: 2 },
    });
    expect(patched.statusCode).toBe(200);
    expect(patched.json()).toMatchObject({ id, name: 'Lamp', price: 9.5, stock: 2 });
    const empty = await app.inject({
      method: 'PATCH',
      url: `/products/${id}`,
      headers: bearer(adminToken),
      payload: {},
    });
    expect(empty.statusCode).toBe(400);
    const missing = await app.inject({
      method: 'PATCH',
      url: '/products/nope',
      headers: bearer(adminToken),
      payload: { stock: 1 },
    });
    expect(missing.json()).toMatchObject({ status: 404, code: 'PRODUCT_NOT_FOUND' });
    const read = await app.inject({ method: 'GET', url: '/products/nope' });
    expect(read.statusCode).toBe(404);
    expect(read.json()).toMatchObject({ code: 'PRODUCT_NOT_FOUND' });
  });

  it('serves a strong ETag per product version and API version, and 304 when it matches', async () => {
    const { id } = await create();
    const first = await app.inject({ method: 'GET', url: `/products/${id}` });
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^"[^"]+"$/);
    expect(first.headers['cache-control']).toBe('public, max-age=0, must-revalidate');
    expect(first.headers.vary).toMatch(/API-Version/i);
    const v2 = await app.inject({ method: 'GET', url: `/v2/products/${id}` });
    expect(v2.headers.etag).not.toBe(etag);

    for (const ifNoneMatch of [etag, `"other", ${etag}`, `W/${etag}`, '*']) {
      const cached = await app.inject({
        method: 'GET',
        url: `/products/${id}`,
        headers: { 'if-none-match': ifNoneMatch },
      });
      expect(cached.statusCode, ifNoneMatch).toBe(304);
      expect(cached.body).toBe('');
      expect(cached.headers.etag).toBe(etag);
    }
    const otherVersion = await app.inject({
      method: 'GET',
      url: `/v2/products/${id}`,
      headers: { 'if-none-match': etag },
    });
    expect(otherVersion.statusCode).toBe(200);

    await app.inject({
      method: 'PATCH',
      url: `/products/${id}`,
      headers: bearer(adminToken),
      payload: { stock: 4 },
    });
    const after = await app.inject({
      method: 'GET',
      url: `/products/${id}`,
      headers: { 'if-none-match': etag },
    });
    expect(after.statusCode).toBe(200);
    expect(after.json()).toMatchObject({ stock: 4 });
    expect(after.headers.etag).not.toBe(etag);
  });

  it('lists products in pages', async () => {
    const ids = [(await create()).id, (await create()).id, (await create()).id];
    const first = await app.inject({ method: 'GET', url: '/products?limit=2' });
    const page = first.json() as { items: Array<{ id: string; price: unknown }>; next_cursor: string };
    expect(page.items.map((p) => p.id)).toEqual(ids.slice(0, 2));
    expect(page.items[0]!.price).toBe(12.99);
    const second = await app.inject({ method: 'GET', url: `/products?limit=2&cursor=${page.next_cursor}` });
    expect(second.json()).toEqual({ items: [expect.objectContaining({ id: ids[2] })], next_cursor: null });
    const all = await app.inject({ method: 'GET', url: '/products' });
    expect((all.json() as { items: unknown[] }).items).toHaveLength(3);
    for (const query of ['limit=0', 'limit=101', 'limit=abc']) {
      const res = await app.inject({ method: 'GET', url: `/products?${query}` });
      expect(res.json(), query).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
    }
    const badCursor = await app.inject({ method: 'GET', url: '/products?cursor=zzz' });
    expect(badCursor.json()).toMatchObject({ status: 400, code: 'INVALID_CURSOR' });
  });
});
