import type { Redis } from 'ioredis';

/**
 * Request counts per key in fixed windows, for `@fastify/rate-limit` (as its `store`) and for the
 * gateway's fast path (`take`), shared through Redis by every process that counts in the same namespace.
 *
 * A round trip to Redis per request would cost more CPU than the rest of a gateway hop together, so a
 * key far below its limit is counted here and its count sent to Redis in one `INCRBY` per `batch`
 * requests or per `syncMs`, whichever comes first; each answer brings the shared total back. A request
 * is counted in Redis before it is let through when its key is within `margin` of the limit (a tenth of
 * it, at least 64), or when this instance has not heard the key's total for four `syncMs` (a new or
 * quiet key). `batch` is a quarter of `margin`, at least 16. So the limit is exact unless the key's
 * traffic over all instances passes about `margin` requests in 4 × `syncMs` (320 a second for a limit
 * of a few hundred a minute), when each instance may let through up to `batch` more before it hears
 * the total.
 * A limit of 64 or less is counted in Redis on every request.
 *
 * While Redis is unreachable the counts go on here (what could not be sent is sent when it is back),
 * so each instance still limits on its own.
 */
export interface RateCounts {
  /** The class `@fastify/rate-limit` takes as its `store`. */
  readonly Store: new () => RateLimitStore;
  /**
   * Counts one request for `key` when that can be decided here, without a round trip: the count so far
   * (this one included) and the milliseconds left in the window. `undefined` (nothing counted) when the
   * key is near its limit: then the request must be counted by `@fastify/rate-limit`.
   */
  take(key: string): { readonly current: number; readonly ttl: number } | undefined;
  /** Whether the counts are shared: Redis is configured and connected. */
  shared(): boolean;
  /** Sends what is still unsent, once, and stops the timer. */
  close(): Promise<void>;
}

/** The store contract of `@fastify/rate-limit`. */
export interface RateLimitStore {
  incr(
    key: string,
    done: (error: Error | null, result?: { current: number; ttl: number }) => void,
    timeWindow: number,
    max: number,
  ): void;
  read(
    key: string,
    done: (error: Error | null, result?: { current: number; ttl: number }) => void,
    timeWindow: number,
  ): void;
  child(params: unknown): RateLimitStore;
}

export interface RateCountOptions {
  readonly max: number;
  readonly windowMs: number;
  /** A connection made to fail at once, not queue, while Redis is unreachable. Without it, counts stay here. */
  readonly redis?: Redis;
  readonly nameSpace?: string;
  /** How often counts are sent to Redis (default 50 ms). */
  readonly syncMs?: number;
  /** How many requests a key may count here before they are sent (default a quarter of the margin, at least 16). */
  readonly batch?: number;
}

interface Entry {
  /** The count in Redis as last heard. */
  shared: number;
  /** Sent to Redis, not yet answered. */
  pending: number;
  /** Counted here, not yet sent. */
  local: number;
  /** When the window ends (epoch ms): from Redis once it answered. */
  until: number;
  /** When Redis last told this instance the key's total (epoch ms); 0 for never. */
  heardAt: number;
}

/** Adds to a key's count and starts its window when the key is new; answers the count and the window left. */
const ADD = `
local count = redis.call('INCRBY', KEYS[1], ARGV[1])
if count == tonumber(ARGV[1]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {count, tonumber(ARGV[2])}
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return {count, ttl}`;

/** Entries kept at most: past this the oldest are dropped (their unsent counts are sent first). */
const MAX_ENTRIES = 100_000;

type RedisWithAdd = Redis & {
  splitshopRateAdd(key: string, amount: number, windowMs: number): Promise<[number, number]>;
};

export function createRateCounts(options: RateCountOptions): RateCounts {
  const { max, windowMs } = options;
  const margin = Math.max(64, Math.ceil(max / 10));
  // What one instance may count unsent is a quarter of the margin: a round trip per 16 requests for
  // the limits people set (hundreds a minute), and only the timer's for a limit in the millions.
  const batch = options.batch ?? Math.max(16, Math.floor(margin / 4));
  const nameSpace = options.nameSpace ?? 'splitshop-rate-limit:';
  const redis = options.redis as RedisWithAdd | undefined;
  if (redis !== undefined && typeof redis.splitshopRateAdd !== 'function')
    redis.defineCommand('splitshopRateAdd', { numberOfKeys: 1, lua: ADD });
  const entries = new Map<string, Entry>();
  const shared = () => redis !== undefined && redis.status === 'ready';

  function entryOf(key: string, now: number): Entry {
    let entry = entries.get(key);
    if (entry === undefined) {
      if (entries.size >= MAX_ENTRIES) evictOldest();
      entry = { shared: 0, pending: 0, local: 0, until: now + windowMs, heardAt: 0 };
      entries.set(key, entry);
    } else if (entry.until <= now) {
      // A new window: what was counted here belonged to the old one; what is in flight counts in the
      // new one, as Redis starts the key again too.
      entry.shared = 0;
      entry.local = 0;
      entry.until = now + windowMs;
    }
    return entry;
  }

  function evictOldest(): void {
    for (const [key, entry] of entries) {
      if (entry.local > 0 && shared()) send(key, entry).catch(() => undefined);
      entries.delete(key);
      if (entries.size < MAX_ENTRIES * 0.9) return;
    }
  }

  /** Sends the key's unsent count (plus `extra`) and returns the shared total with the window left. */
  async function send(key: string, entry: Entry, extra = 0): Promise<{ current: number; ttl: number }> {
    const amount = entry.local + extra;
    entry.local = 0;
    entry.pending += amount;
    try {
      const [count, ttl] = await redis!.splitshopRateAdd(nameSpace + key, amount, windowMs);
      entry.pending -= amount;
      entry.shared = count;
      entry.heardAt = Date.now();
      entry.until = entry.heardAt + ttl;
      return { current: count, ttl };
    } catch (error) {
      // Kept to be sent again; this instance goes on counting it meanwhile.
      entry.pending -= amount;
      entry.local += amount;
      throw error;
    }
  }

  const view = (entry: Entry) => entry.shared + entry.pending + entry.local;

  function flush(): void {
    const now = Date.now();
    for (const [key, entry] of entries) {
      // A window that is over is forgotten, with what was not sent of it: Redis forgot it too.
      if (entry.until <= now) {
        if (entry.pending === 0) entries.delete(key);
      } else if (entry.local > 0 && shared()) send(key, entry).catch(() => undefined);
    }
  }
  const syncMs = options.syncMs ?? 50;
  // A busy event loop runs the timer late: a total heard four rounds ago is still good to go by.
  const staleMs = 4 * syncMs;
  // Without Redis there is nothing to send: the timer only forgets the keys whose window is over.
  const timer = setInterval(flush, redis === undefined ? 1_000 : syncMs);
  timer.unref();

  function take(key: string): { current: number; ttl: number } | undefined {
    const now = Date.now();
    const entry = entryOf(key, now);
    if (view(entry) + 1 > max - margin) return undefined;
    // What this instance knows of the total is too old to go by: hear it first.
    if (shared() && now - entry.heardAt > staleMs) return undefined;
    entry.local += 1;
    if (entry.local >= batch && shared()) send(key, entry).catch(() => undefined);
    return { current: view(entry), ttl: entry.until - now };
  }

  function incr(
    key: string,
    done: (error: Error | null, result?: { current: number; ttl: number }) => void,
  ): void {
    const taken = take(key);
    if (taken !== undefined) {
      done(null, taken);
      return;
    }
    const now = Date.now();
    const entry = entryOf(key, now);
    if (!shared()) {
      entry.local += 1;
      done(null, { current: view(entry), ttl: entry.until - now });
      return;
    }
    // Near the limit: this request counts in Redis before it is let through.
    send(key, entry, 1).then(
      (result) => done(null, result),
      () => done(null, { current: view(entry), ttl: entry.until - Date.now() }),
    );
  }

  class Store implements RateLimitStore {
    incr(key: string, done: Parameters<RateLimitStore['incr']>[1]): void {
      incr(key, done);
    }
    read(key: string, done: Parameters<RateLimitStore['read']>[1]): void {
      const now = Date.now();
      const entry = entries.get(key);
      if (entry === undefined || entry.until <= now) done(null, { current: 0, ttl: 0 });
      else done(null, { current: view(entry), ttl: entry.until - now });
    }
    /** Called for a route with limits of its own; every count here is against one `max`. */
    child(): RateLimitStore {
      throw new Error('Per-route rate limits are not supported: every route shares the edge limit');
    }
  }

  return {
    Store,
    take,
    shared,
    async close() {
      clearInterval(timer);
      if (!shared()) return;
      await Promise.allSettled(
        [...entries].filter(([, entry]) => entry.local > 0).map(([key, entry]) => send(key, entry)),
      );
    },
  };
}
