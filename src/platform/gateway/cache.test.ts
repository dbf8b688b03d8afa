import { describe, expect, it } from 'vitest';
import type { EventBus, SubscribeOptions } from '../events/bus.ts';
import { createEnvelope } from '../events/envelope.ts';
import { createMemoryBus } from '../events/memory-bus.ts';
import {
  type CachedResponse,
  createEdgeCache,
  noneMatch,
  storable,
  subscribeCacheInvalidation,
} from './cache.ts';

function answer(text: string): CachedResponse {
  return {
    status: 200,
    headers: { etag: `"${text}"`, 'content-type': 'application/json' },
    body: Buffer.from(text),
  };
}

function setup(maxEntries = 100) {
  let clock = 1_000;
  const cache = createEdgeCache({ maxEntries, ttlMs: 1_000, now: () => clock });
  const put = (key: string, text: string) => cache.set(key, cache.ticket(), answer(text));
  return { cache, put, advance: (ms: number) => (clock += ms) };
}

describe('the edge cache', () => {
  it('keys only public product reads, by version, path and query', () => {
    const { cache } = setup();
    expect(cache.keyOf('GET', '/products', 'limit=2', 1)).toBe('1 /products?limit=2');
    expect(cache.keyOf('GET', '/products/p1', '', 2)).toBe('2 /products/p1?');
    for (const [method, path] of [
      ['HEAD', '/products'],
      ['POST', '/products'],
      ['PATCH', '/products/p1'],
      ['GET', '/products/'],
      ['GET', '/products/p1/stock'],
      ['GET', '/productsx'],
      ['GET', '/orders'],
      ['GET', '/orders/o1'],
      ['GET', '/users/me'],
      ['GET', '/payments'],
      ['GET', '/notifications'],
    ] as const) {
      expect(cache.keyOf(method, path, '', 1), `${method} ${path}`).toBeUndefined();
    }
  });

  it('serves an answer until its time is up', () => {
    const { cache, put, advance } = setup();
    put('1 /products/p1?', 'a');
    advance(999);
    expect(cache.get('1 /products/p1?')?.body.toString()).toBe('a');
    advance(1);
    expect(cache.get('1 /products/p1?')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('keeps at most maxEntries, dropping the least recently used', () => {
    const { cache, put } = setup(2);
    put('1 /products/a?', 'a');
    put('1 /products/b?', 'b');
    cache.get('1 /products/a?');
    put('1 /products/c?', 'c');
    expect(cache.size).toBe(2);
    expect(cache.get('1 /products/b?')).toBeUndefined();
    expect(cache.get('1 /products/a?')).toBeDefined();
    expect(cache.get('1 /products/c?')).toBeDefined();
  });

  it('drops a product in every version and every list page, and nothing else, when it changes', () => {
    const { cache, put } = setup();
    for (const key of ['1 /products/p1?', '2 /products/p1?', '1 /products?', '2 /products?limit=5'])
      put(key, key);
    put('1 /products/p2?', 'p2');
    cache.invalidateProduct('p1');
    expect(cache.get('1 /products/p1?')).toBeUndefined();
    expect(cache.get('2 /products/p1?')).toBeUndefined();
    expect(cache.get('1 /products?')).toBeUndefined();
    expect(cache.get('2 /products?limit=5')).toBeUndefined();
    expect(cache.get('1 /products/p2?')?.body.toString()).toBe('p2');
  });

  it('matches a product id however its path spelled it', () => {
    const { cache, put } = setup();
    put('1 /products/a%20b?', 'spaced');
    cache.invalidateProduct('a b');
    expect(cache.get('1 /products/a%20b?')).toBeUndefined();
  });

  it('does not keep an answer fetched before an invalidation that happened while it was in flight', () => {
    const { cache } = setup();
    const ticket = cache.ticket();
    cache.invalidateProduct('p1');
    cache.set('1 /products/p1?', ticket, answer('old'));
    expect(cache.get('1 /products/p1?')).toBeUndefined();
    cache.set('1 /products/p1?', cache.ticket(), answer('new'));
    expect(cache.get('1 /products/p1?')?.body.toString()).toBe('new');
  });

  it('drops the product named by a catalog event, and everything for an event that names none', async () => {
    const { cache, put } = setup();
    const bus = createMemoryBus();
    await subscribeCacheInvalidation(bus, cache);
    put('1 /products/p1?', 'p1');
    put('1 /products/p2?', 'p2');
    await bus.publish(createEnvelope('catalog', 'catalog.product_updated', { product_id: 'p1', version: 2 }));
    expect(cache.get('1 /products/p1?')).toBeUndefined();
    expect(cache.get('1 /products/p2?')).toBeDefined();
    await bus.publish(createEnvelope('catalog', 'catalog.product_created', { name: 'Kettle' }));
    expect(cache.size).toBe(0);
    await bus.close();
  });

  it('subscribes for this process only, and starts afresh when the subscription is declared again', async () => {
    const { cache, put } = setup();
    const subscribed: Array<{ consumer: string; types: readonly string[]; options?: SubscribeOptions }> = [];
    const bus = {
      ...createMemoryBus(),
      async subscribe(consumer, types, _handler, options) {
        subscribed.push({ consumer, types, ...(options ? { options } : {}) });
      },
    } satisfies EventBus;
    await subscribeCacheInvalidation(bus, cache);
    expect(subscribed).toHaveLength(1);
    expect(subscribed[0]!.types).toEqual(['catalog.product_updated', 'catalog.product_created']);
    expect(subscribed[0]!.options?.durable).toBe(false);
    put('1 /products/p1?', 'p1');
    put('1 /products?', 'list');
    // The broker came back: the new queue missed whatever was published meanwhile.
    subscribed[0]!.options?.onResubscribed?.();
    expect(cache.size).toBe(0);
  });
});

describe('what may be cached', () => {
  it('keeps a plain 200 only', () => {
    expect(storable(200, { 'cache-control': 'public, max-age=0, must-revalidate' })).toBe(true);
    expect(storable(404, {})).toBe(false);
    expect(storable(200, { 'set-cookie': ['a=b'] })).toBe(false);
    expect(storable(200, { 'cache-control': 'private' })).toBe(false);
    expect(storable(200, { 'cache-control': 'no-store' })).toBe(false);
  });

  it('compares If-None-Match weakly, in lists and with *', () => {
    expect(noneMatch('"a"', '"a"')).toBe(true);
    expect(noneMatch('W/"a"', '"a"')).toBe(true);
    expect(noneMatch('"b", "a"', '"a"')).toBe(true);
    expect(noneMatch('*', '"a"')).toBe(true);
    expect(noneMatch('"b"', '"a"')).toBe(false);
    expect(noneMatch(undefined, '"a"')).toBe(false);
    expect(noneMatch('"a"', undefined)).toBe(false);
  });
});
