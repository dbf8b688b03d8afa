import type { EventBus } from '../events/bus.ts';

/** An answer kept by the edge cache: what a later identical read gets without asking the service. */
export interface CachedResponse {
  readonly status: number;
  /** Only `etag`, `cache-control`, `content-type` and `vary`: nothing about the caller or the connection. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export interface EdgeCacheOptions {
  /** Answers kept at most; the least recently used goes first. */
  readonly maxEntries: number;
  /**
   * How long an answer is served. Keep it short (1–2 s): stock changes made by orders reach the cache
   * only through events, and this bounds how stale a read is until the event arrives.
   */
  readonly ttlMs: number;
  /** The clock, for tests. */
  readonly now?: () => number;
}

/**
 * The gateway's cache of public product reads (`GET /products`, `GET /products/{id}`), which API.md
 * makes identical for every caller. Nothing else is ever cached. A write to a product through the
 * gateway, or a catalog event, drops the product and every list page; a fill that was in flight when
 * that happened is not stored, so the cache never serves a product older than an update it has seen
 * answered.
 */
export interface EdgeCache {
  /** The key of a cacheable read, or undefined when this request must go to the service. */
  keyOf(method: string, path: string, query: string, apiVersion: number): string | undefined;
  get(key: string): CachedResponse | undefined;
  /** Taken before asking the service; `set` ignores a fill whose ticket an invalidation made stale. */
  ticket(): number;
  set(key: string, ticket: number, response: CachedResponse): void;
  /** Drops `productId` (when given) and every list page. */
  invalidateProduct(productId: string | undefined): void;
  clear(): void;
  readonly size: number;
}

const LIST_PATH = '/products';
const ITEM_PREFIX = '/products/';
/** The response headers worth keeping: they describe the representation, not the exchange. */
export const CACHED_HEADERS = ['etag', 'cache-control', 'content-type', 'vary'] as const;

interface Entry {
  readonly response: CachedResponse;
  readonly expiresAt: number;
  /** The product of an item read; undefined for a list page. */
  readonly productId: string | undefined;
}

/** The product id a `/products/...` path names, decoded; undefined if it is not one product's path. */
export function productIdOf(path: string): string | undefined {
  if (!path.startsWith(ITEM_PREFIX) || path.length === ITEM_PREFIX.length) return undefined;
  const segment = path.slice(ITEM_PREFIX.length);
  if (segment.includes('/')) return undefined;
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** Whether `path` is a product read or write path: `/products` or `/products/...`. */
export function isProductPath(path: string): boolean {
  return path === LIST_PATH || path.startsWith(ITEM_PREFIX);
}

export function createEdgeCache(options: EdgeCacheOptions): EdgeCache {
  const { maxEntries, ttlMs } = options;
  const now = options.now ?? Date.now;
  // A Map iterates in insertion order: re-inserting on each hit makes the first key the least recent.
  const entries = new Map<string, Entry>();
  const byProduct = new Map<string, Set<string>>();
  const lists = new Set<string>();
  let epoch = 0;

  function remove(key: string, entry: Entry): void {
    entries.delete(key);
    if (entry.productId === undefined) {
      lists.delete(key);
      return;
    }
    const keys = byProduct.get(entry.productId);
    keys?.delete(key);
    if (keys?.size === 0) byProduct.delete(entry.productId);
  }

  return {
    keyOf(method, path, query, apiVersion) {
      if (method !== 'GET') return undefined;
      if (path !== LIST_PATH && productIdOf(path) === undefined) return undefined;
      return `${apiVersion} ${path}?${query}`;
    },
    get(key) {
      const entry = entries.get(key);
      if (entry === undefined) return undefined;
      if (entry.expiresAt <= now()) {
        remove(key, entry);
        return undefined;
      }
      entries.delete(key);
      entries.set(key, entry);
      return entry.response;
    },
    ticket: () => epoch,
    set(key, ticket, response) {
      if (ticket !== epoch) return;
      const old = entries.get(key);
      if (old !== undefined) remove(key, old);
      const path = key.slice(key.indexOf(' ') + 1, key.indexOf('?'));
      const productId = path === LIST_PATH ? undefined : productIdOf(path);
      entries.set(key, { response, expiresAt: now() + ttlMs, productId });
      if (productId === undefined) lists.add(key);
      else {
        const keys = byProduct.get(productId);
        if (keys === undefined) byProduct.set(productId, new Set([key]));
        else keys.add(key);
      }
      if (entries.size > maxEntries) {
        const oldest = entries.keys().next().value as string;
        remove(oldest, entries.get(oldest)!);
      }
    },
    invalidateProduct(productId) {
      epoch++;
      for (const key of lists) entries.delete(key);
      lists.clear();
      if (productId === undefined) return;
      for (const key of byProduct.get(productId) ?? []) entries.delete(key);
      byProduct.delete(productId);
    },
    clear() {
      epoch++;
      entries.clear();
      byProduct.clear();
      lists.clear();
    },
    get size() {
      return entries.size;
    },
  };
}

/** `If-None-Match` compares weakly (RFC 9110 13.1.2): a list of tags, or `*`. */
export function noneMatch(header: string | undefined, etag: string | undefined): boolean {
  if (header === undefined || etag === undefined) return false;
  const strong = etag.replace(/^W\//, '');
  return header.split(',').some((raw) => {
    const tag = raw.trim();
    return tag === '*' || tag.replace(/^W\//, '') === strong;
  });
}

/** Whether an answer from the service may be kept: a 200 that is neither private nor personal. */
export function storable(status: number, headers: Readonly<Record<string, unknown>>): boolean {
  if (status !== 200 || headers['set-cookie'] !== undefined) return false;
  const control = headers['cache-control'];
  return !(typeof control === 'string' && /no-store|private/i.test(control));
}

/** The catalog events that change what a product read answers. */
export const PRODUCT_EVENTS = ['catalog.product_updated', 'catalog.product_created'] as const;

/**
 * Subscribes `cache` to the catalog events that change product reads: the product an event names is
 * dropped, everything when it names none. The subscription is the process's own (not durable): every
 * gateway instance needs every event, and one that was down starts with an empty cache anyway. For the
 * same reason a subscription declared again after the broker came back starts with an empty cache: the
 * invalidations published meanwhile never reached its new queue.
 */
export function subscribeCacheInvalidation(bus: EventBus, cache: EdgeCache): Promise<void> {
  return bus.subscribe(
    'gateway',
    PRODUCT_EVENTS,
    async (event) => {
      const productId = (event.data as { product_id?: unknown } | undefined)?.product_id;
      if (typeof productId === 'string') cache.invalidateProduct(productId);
      else cache.clear();
    },
    { durable: false, onResubscribed: () => cache.clear() },
  );
}
