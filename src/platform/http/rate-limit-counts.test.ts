import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { needs } from '../../../test/support/services.ts';
import { createRateCounts, type RateCounts, type RateLimitStore } from './rate-limit-counts.ts';

function incr(store: RateLimitStore, key: string): Promise<{ current: number; ttl: number }> {
  return new Promise((done, fail) =>
    store.incr(key, (error, result) => (error ? fail(error) : done(result!)), 60_000, 0),
  );
}

const settle = (ms: number) => new Promise((done) => setTimeout(done, ms));

describe('rate counts in one process', () => {
  it('counts here, and leaves the requests near the limit to the store', async () => {
    const counts = createRateCounts({ max: 100, windowMs: 60_000 });
    const store = new counts.Store();
    const taken = [];
    for (let i = 0; i < 40; i++) taken.push(counts.take('k'));
    // 64 or more left: counted here; past that `take` counts nothing.
    expect(taken.slice(0, 36).map((t) => t?.current)).toEqual(Array.from({ length: 36 }, (_, i) => i + 1));
    expect(taken.slice(36)).toEqual([undefined, undefined, undefined, undefined]);
    const decided = [];
    for (let i = 0; i < 66; i++) decided.push((await incr(store, 'k')).current);
    expect(decided).toEqual(Array.from({ length: 66 }, (_, i) => i + 37));
    expect(counts.shared()).toBe(false);
    await counts.close();
  });

  it('starts a new window when the old one is over', () => {
    let now = Date.parse('2026-11-24T10:00:00Z');
    const realNow = Date.now;
    Date.now = () => now;
    try {
      const counts = createRateCounts({ max: 1_000, windowMs: 1_000 });
      counts.take('k');
      expect(counts.take('k')).toEqual({ current: 2, ttl: 1_000 });
      now += 1_000;
      expect(counts.take('k')).toEqual({ current: 1, ttl: 1_000 });
    } finally {
      Date.now = realNow;
    }
  });
});

describe.skipIf(!(await needs('redis')))('rate counts shared through Redis', () => {
  let nameSpace: string;
  let connections: Redis[];
  let instances: RateCounts[];

  function instance(max: number): RateCounts {
    const redis = new Redis({
      host: '127.0.0.1',
      port: 6379,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
    });
    connections.push(redis);
    const counts = createRateCounts({ max, windowMs: 60_000, redis, nameSpace });
    instances.push(counts);
    return counts;
  }

  async function ready(): Promise<void> {
    while (!instances.every((counts) => counts.shared())) await settle(5);
  }

  const total = async (key: string) => Number(await connections[0]!.get(`${nameSpace}${key}`));

  beforeEach(() => {
    nameSpace = `test-rate:${randomUUID()}:`;
    connections = [];
    instances = [];
  });
  afterEach(async () => {
    await Promise.all(instances.map((counts) => counts.close()));
    for (const redis of connections) redis.disconnect();
  });

  it('lets exactly `max` requests through two instances taking turns', async () => {
    const a = instance(100);
    const b = instance(100);
    await ready();
    const stores = [new a.Store(), new b.Store()];
    const currents = [];
    for (let i = 0; i < 110; i++) currents.push((await incr(stores[i % 2]!, 'user:1')).current);
    expect(currents.filter((current) => current <= 100)).toHaveLength(100);
    expect(currents.slice(100).every((current) => current > 100)).toBe(true);
    await settle(120);
    expect(await total('user:1')).toBe(110);
  });

  it('lets exactly `max` through a burst sent to two instances at once', async () => {
    const a = instance(100);
    const b = instance(100);
    await ready();
    const stores = [new a.Store(), new b.Store()];
    const currents = await Promise.all(Array.from({ length: 300 }, (_, i) => incr(stores[i % 2]!, 'user:2')));
    expect(currents.filter((c) => c.current <= 100)).toHaveLength(100);
  });

  it('far from the limit, counts here and sends the counts in batches', async () => {
    const a = instance(100_000);
    const b = instance(100_000);
    await ready();
    // A quiet key is counted in Redis first; after that this instance counts it here.
    await incr(new a.Store(), 'addr:x');
    await incr(new b.Store(), 'addr:x');
    let here = 0;
    for (let i = 0; i < 15; i++) {
      if (a.take('addr:x') !== undefined) here++;
      if (b.take('addr:x') !== undefined) here++;
    }
    expect(here).toBe(30);
    // Nothing sent yet (fewer than a batch each), until the timer sends it.
    expect(await total('addr:x')).toBe(2);
    await settle(120);
    expect(await total('addr:x')).toBe(32);
    // Quiet for four rounds, the key is counted in Redis again, and the answer has both instances' counts.
    await settle(150);
    expect(a.take('addr:x')).toBeUndefined();
    expect((await incr(new a.Store(), 'addr:x')).current).toBe(33);
  });

  it('sends what is left when it closes', async () => {
    const a = instance(100_000);
    await ready();
    await incr(new a.Store(), 'addr:y');
    for (let i = 0; i < 5; i++) a.take('addr:y');
    await a.close();
    expect(await total('addr:y')).toBe(6);
  });
});
