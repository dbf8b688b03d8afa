import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createEnvelope } from '../events/envelope.ts';
import { createMemoryBus } from '../events/memory-bus.ts';
import { subscribeCacheInvalidation } from './cache.ts';
import {
  type FakeUpstream,
  gatewayOptions,
  type RunningGateway,
  startGateway,
  startUpstream,
} from './test-support.ts';

/** A catalog that answers product reads the way the real one does, with a version that grows. */
async function startCatalog(): Promise<FakeUpstream & { bump(): void }> {
  let version = 1;
  const upstream = await startUpstream((req, res, seen) => {
    const apiVersion = req.headers['api-version'];
    const body = JSON.stringify({ url: seen.url, version, api_version: apiVersion });
    res.writeHead(seen.method === 'GET' ? 200 : 201, {
      'content-type': 'application/json; charset=utf-8',
      etag: `"p.${version}.v${apiVersion}"`,
      'cache-control': 'public, max-age=0, must-revalidate',
      vary: 'API-Version',
      'x-served-by': 'catalog',
    });
    res.end(body);
  });
  return Object.assign(upstream, { bump: () => version++ });
}

describe('the edge cache at the gateway', () => {
  let catalog: Awaited<ReturnType<typeof startCatalog>>;
  let orders: FakeUpstream;
  let gateway: RunningGateway;
  const reads = () => catalog.seen.filter((s) => s.method === 'GET').length;

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    catalog = await startCatalog();
    orders = await startUpstream();
    gateway = await startGateway(
      gatewayOptions(
        { catalog: [catalog.url], orders: [orders.url], users: [orders.url] },
        { cache: { maxEntries: 100, ttlMs: 1_000 } },
      ),
    );
  });
  afterEach(async () => {
    vi.useRealTimers();
    await gateway.close();
    await Promise.all([catalog.close(), orders.close()]);
  });

  const admin = () => ({
    authorization: `Bearer ${gateway.app.issueToken({ id: 'a', role: 'admin' }).access_token}`,
  });

  it('answers a product read again from the cache, to anyone, with its ETag and type', async () => {
    const first = await gateway.request('/products/p1');
    const second = await gateway.request('/products/p1', {
      headers: {
        authorization: `Bearer ${gateway.app.issueToken({ id: 'u', role: 'customer' }).access_token}`,
      },
    });
    expect(reads()).toBe(1);
    expect(second.status).toBe(200);
    expect(second.text).toBe(first.text);
    expect(second.headers).toMatchObject({
      etag: '"p.1.v1"',
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'public, max-age=0, must-revalidate',
      vary: 'API-Version',
    });
    // Only the representation's headers are kept, not whatever else the service said.
    expect(second.headers['x-served-by']).toBeUndefined();
    expect(second.headers['x-request-id']).not.toBe(first.headers['x-request-id']);
  });

  it('keeps versions and query strings apart', async () => {
    const v1 = await gateway.request('/v1/products/p1');
    const v2 = await gateway.request('/v2/products/p1');
    await gateway.request('/products/p1', { headers: { 'api-version': '2' } });
    await gateway.request('/products?limit=2');
    await gateway.request('/products?limit=3');
    await gateway.request('/products?limit=2');
    expect(JSON.parse(v1.text).api_version).toBe('1');
    expect(JSON.parse(v2.text).api_version).toBe('2');
    expect(reads()).toBe(4);
  });

  it('answers If-None-Match with 304 itself when the cached ETag matches, else with the body', async () => {
    await gateway.request('/products/p1');
    const notModified = await gateway.request('/products/p1', { headers: { 'if-none-match': '"p.1.v1"' } });
    expect(notModified.status).toBe(304);
    expect(notModified.text).toBe('');
    expect(notModified.headers.etag).toBe('"p.1.v1"');
    const changed = await gateway.request('/products/p1', { headers: { 'if-none-match': '"p.0.v1"' } });
    expect(changed.status).toBe(200);
    expect(reads()).toBe(1);
  });

  it('fills the cache from a conditional read: the service is asked for the whole answer', async () => {
    const res = await gateway.request('/products/p1', { headers: { 'if-none-match': '"p.1.v1"' } });
    expect(res.status).toBe(304);
    expect(catalog.seen[0]!.headers['if-none-match']).toBeUndefined();
    expect((await gateway.request('/products/p1')).status).toBe(200);
    expect(reads()).toBe(1);
  });

  it('asks again once the time to live is over', async () => {
    await gateway.request('/products/p1');
    vi.advanceTimersByTime(999);
    await gateway.request('/products/p1');
    expect(reads()).toBe(1);
    vi.advanceTimersByTime(1);
    await gateway.request('/products/p1');
    expect(reads()).toBe(2);
  });

  it('drops a product and the lists when a PATCH of it passes through, before answering it', async () => {
    await gateway.request('/products/p1');
    await gateway.request('/products/p2');
    await gateway.request('/products');
    catalog.bump();
    const patched = await gateway.request('/products/p1', {
      method: 'PATCH',
      headers: { ...admin(), 'content-type': 'application/json' },
      body: '{"stock":3}',
    });
    expect(patched.status).toBe(201);
    const after = await gateway.request('/products/p1', { headers: { 'if-none-match': '"p.1.v1"' } });
    expect(after.status).toBe(200);
    expect(JSON.parse(after.text).version).toBe(2);
    await gateway.request('/products');
    await gateway.request('/products/p2');
    expect(reads()).toBe(5);
  });

  it('drops the lists when a product is created through it', async () => {
    await gateway.request('/products');
    await gateway.request('/products', { method: 'POST', headers: admin(), body: '{}' });
    await gateway.request('/products');
    expect(reads()).toBe(2);
  });

  it('drops a product on the catalog event, for changes that did not pass through this gateway', async () => {
    await gateway.request('/products/p1');
    catalog.bump();
    const bus = createMemoryBus();
    await subscribeCacheInvalidation(bus, gateway.app.edgeCache!);
    await bus.publish(createEnvelope('catalog', 'catalog.product_updated', { product_id: 'p1', version: 2 }));
    await bus.close();
    const res = await gateway.request('/products/p1');
    expect(JSON.parse(res.text).version).toBe(2);
    expect(reads()).toBe(2);
  });

  it('never caches anything but product reads', async () => {
    for (const path of ['/orders', '/orders/o1', '/users/me']) {
      await gateway.request(path, { headers: admin() });
      await gateway.request(path, { headers: admin() });
    }
    expect(orders.seen).toHaveLength(6);
    await gateway.request('/products/p1', { method: 'HEAD' });
    await gateway.request('/products/p1', { method: 'HEAD' });
    expect(catalog.seen).toHaveLength(2);
  });

  it('does not keep a product answer the service marked private or that failed', async () => {
    catalog.behave((_req, res) => res.writeHead(404, { 'content-type': 'application/json' }).end('{}'));
    await gateway.request('/products/p9');
    await gateway.request('/products/p9');
    catalog.behave((_req, res) =>
      res.writeHead(200, { 'cache-control': 'private', 'content-type': 'application/json' }).end('{}'),
    );
    await gateway.request('/products/p9');
    await gateway.request('/products/p9');
    expect(reads()).toBe(4);
  });
});
