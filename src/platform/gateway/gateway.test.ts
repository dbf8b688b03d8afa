import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IDENTITY_HEADER } from '../rpc/identity.ts';
import {
  type FakeUpstream,
  gatewayOptions,
  internalAuth,
  nodeHttpGet,
  type RunningGateway,
  type Seen,
  startGateway,
  startUpstream,
} from './test-support.ts';

describe('the gateway', () => {
  let catalog: FakeUpstream;
  let orders: FakeUpstream;
  let users: FakeUpstream;
  let gateway: RunningGateway;
  const hits = () => catalog.seen.length + orders.seen.length + users.seen.length;
  const echoed = (text: string) => JSON.parse(text) as Seen;

  beforeEach(async () => {
    [catalog, orders, users] = await Promise.all([startUpstream(), startUpstream(), startUpstream()]);
    gateway = await startGateway(
      gatewayOptions({ catalog: [catalog.url], orders: [orders.url], users: [users.url] }, { cache: false }),
    );
  });
  afterEach(async () => {
    await gateway.close();
    await Promise.all([catalog.close(), orders.close(), users.close()]);
  });

  const token = (role: 'customer' | 'admin' = 'customer') =>
    gateway.app.issueToken({ id: 'u-42', role }).access_token;

  describe('routing', () => {
    it('sends each path to the service owning its prefix, with method, query and body', async () => {
      const res = await gateway.request('/orders/o1/events?limit=2&cursor=abc', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"a":1}',
      });
      expect(res.status).toBe(200);
      expect(echoed(res.text)).toMatchObject({
        method: 'POST',
        url: '/orders/o1/events?limit=2&cursor=abc',
        body: '{"a":1}',
      });
      expect((await gateway.request('/auth/login', { method: 'POST' })).status).toBe(200);
      expect((await gateway.request('/users/me')).status).toBe(200);
      expect((await gateway.request('/products')).status).toBe(200);
      expect([catalog.seen.length, orders.seen.length, users.seen.length]).toEqual([1, 1, 2]);
    });

    it('strips the version from the path and says it in API-Version, so the service answers in it', async () => {
      const v2 = await gateway.request('/v2/products/p1?x=1');
      expect(echoed(v2.text)).toMatchObject({ url: '/products/p1?x=1', headers: { 'api-version': '2' } });
      expect(v2.headers['api-version']).toBe('2');
      const header = await gateway.request('/products/p1', { headers: { 'api-version': '2' } });
      expect(echoed(header.text).headers['api-version']).toBe('2');
      const plain = await gateway.request('/v1/products/p1');
      expect(echoed(plain.text).headers['api-version']).toBe('1');
      const bad = await gateway.request('/products', { headers: { 'api-version': '3' } });
      expect(JSON.parse(bad.text).code).toBe('UNSUPPORTED_API_VERSION');
    });

    it('forwards the answer as the service wrote it: status, headers and body', async () => {
      orders.behave((_req, res) => {
        res.writeHead(409, {
          'content-type': 'application/problem+json',
          etag: '"e1"',
          'x-custom': 'kept',
          'set-cookie': ['a=1', 'b=2'],
          'keep-alive': 'timeout=5',
        });
        res.end('{"code":"OUT_OF_STOCK"}');
      });
      const res = await gateway.request('/orders', { method: 'POST' });
      expect(res.status).toBe(409);
      expect(res.text).toBe('{"code":"OUT_OF_STOCK"}');
      expect(res.headers).toMatchObject({
        'content-type': 'application/problem+json',
        etag: '"e1"',
        'x-custom': 'kept',
        'set-cookie': ['a=1', 'b=2'],
      });
    });

    it('streams an answer too large to hold', async () => {
      const big = 'x'.repeat(300_000);
      orders.behave((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(big));
      const res = await gateway.request('/orders');
      expect(res.status).toBe(200);
      expect(res.text).toBe(big);
    });

    it('answers a path no service owns with a 404 problem, without asking anyone', async () => {
      for (const path of ['/', '/nope', '/productsx', '/v1/no/such/route', '/PRODUCTS']) {
        const res = await gateway.request(path);
        expect(res.status, path).toBe(404);
        expect(JSON.parse(res.text)).toMatchObject({ code: 'NOT_FOUND', status: 404 });
        expect(res.headers['content-type']).toContain('application/problem+json');
      }
      expect(hits()).toBe(0);
    });

    it('forwards the methods of the API only', async () => {
      for (const method of ['PUT', 'DELETE', 'OPTIONS', 'HEAD']) {
        expect((await gateway.request('/orders/o1', { method })).status, method).toBe(200);
      }
      for (const method of ['TRACE', 'PROPFIND']) {
        expect((await gateway.request('/orders/o1', { method })).status, method).toBe(404);
      }
      expect(orders.seen.map((seen) => seen.method)).toEqual(['PUT', 'DELETE', 'OPTIONS', 'HEAD']);
    });

    it('never lets /internal be reached, however it is spelled', async () => {
      const spellings = [
        '/internal/catalog/reserveStock',
        '/v1/internal/catalog/reserveStock',
        '/v2/internal/x',
        '/INTERNAL/x',
        '/%69nternal/x',
        '/%49NTERNAL/x',
        '/products/../internal/x',
        '/products/%2e%2e/internal/x',
        '/products/%2E%2E/internal/x',
        '/products/.%2e/internal/x',
        '/products%2f..%2finternal/x',
        '/products%2F%2E%2E%2Finternal/x',
        '/products\\..\\internal/x',
        '/products%5c..%5cinternal/x',
        '/products/..;/internal/x',
        '/products;/../internal/x',
        '//internal/x',
        '/./internal/x',
        '/products/%252e%252e/internal/x',
        '/internal%00/x',
        '/products%00/../internal',
      ];
      for (const path of spellings) {
        const res = await gateway.request(path);
        expect([400, 404], path).toContain(res.status);
        expect(JSON.parse(res.text).code, path).toMatch(/^(NOT_FOUND|VALIDATION_FAILED)$/);
      }
      expect(hits()).toBe(0);
    });

    it('routes and forwards the normal form of a path, not the spelling that came', async () => {
      const res = await gateway.request('/%70roducts/%70%31');
      expect(res.status).toBe(200);
      expect(echoed(res.text).url).toBe('/products/p1');
      expect(catalog.seen).toHaveLength(1);
    });

    it('takes any body type as it is and leaves judging it to the service, within the body limit', async () => {
      const text = await gateway.request('/orders', {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: 'product_id=p1',
      });
      expect(echoed(text.text)).toMatchObject({
        body: 'product_id=p1',
        headers: { 'content-type': 'text/plain' },
      });
      const malformed = await gateway.request('/orders', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"product_id": ',
      });
      expect(echoed(malformed.text).body).toBe('{"product_id": ');
      const tooLarge = await gateway.request('/orders', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ pad: 'x'.repeat(5000) }),
      });
      expect(tooLarge.status).toBe(413);
      expect(JSON.parse(tooLarge.text).code).toBe('PAYLOAD_TOO_LARGE');
      expect(orders.seen).toHaveLength(2);
    });
  });

  describe('identity', () => {
    it('never passes on what a client says about identity, hops or forwarding', async () => {
      const res = await nodeHttpGet(`${gateway.url}/orders`, {
        authorization: `Bearer ${token()}`,
        [IDENTITY_HEADER]: internalAuth.sign({ id: 'root', role: 'admin' }),
        'x-splitshop-actor': 'root',
        'x-user-id': 'root',
        'x-user-role': 'admin',
        'x-role': 'admin',
        'x-forwarded-for': '6.6.6.6',
        'x-forwarded-host': 'evil.test',
        'x-forwarded-proto': 'gopher',
        'x-forwarded-port': '6666',
        'x-forwarded-prefix': '/internal',
        forwarded: 'for=6.6.6.6',
        'x-real-ip': '6.6.6.6',
        'proxy-authorization': 'Basic eDp5',
        te: 'trailers',
        'x-drop-me': 'hop',
        connection: 'keep-alive, x-drop-me',
        'x-request-id': 'client-chosen',
        'idempotency-key': 'k-1',
        'if-none-match': '"v1"',
        accept: 'application/json',
        'x-custom': 'end-to-end',
      });
      const { headers } = echoed(res.text);
      for (const name of [
        'authorization',
        'x-splitshop-actor',
        'x-user-id',
        'x-user-role',
        'x-role',
        'forwarded',
        'x-forwarded-port',
        'x-forwarded-prefix',
        'x-real-ip',
        'proxy-authorization',
        'te',
        'x-drop-me',
      ]) {
        expect(headers[name], name).toBeUndefined();
      }
      expect(headers['x-forwarded-for']).toBe('127.0.0.1');
      expect(headers['x-forwarded-proto']).toBe('http');
      expect(headers['x-forwarded-host']).toBe(new URL(gateway.url).host);
      expect(headers['x-request-id']).toBe('client-chosen');
      expect(headers).toMatchObject({
        'idempotency-key': 'k-1',
        'if-none-match': '"v1"',
        accept: 'application/json',
        'x-custom': 'end-to-end',
      });
      // The identity is the gateway's, for the actor the gateway verified, not the forged one.
      const ctx = internalAuth.verify(headers[IDENTITY_HEADER] as string);
      expect(ctx).toEqual({ actor: { id: 'u-42', role: 'customer', sessionVersion: 0 } });
    });

    it('signs an anonymous identity for a caller without a token, beside the request id and trace context', async () => {
      const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
      const res = await gateway.request('/products', { headers: { traceparent } });
      const { headers } = echoed(res.text);
      expect(headers.traceparent).toBe(traceparent);
      expect(headers['x-request-id']).toBe(res.headers['x-request-id']);
      expect(internalAuth.verify(headers[IDENTITY_HEADER] as string)).toEqual({});
      const malformed = await gateway.request('/products', { headers: { traceparent: 'zz-not-a-trace' } });
      expect(echoed(malformed.text).headers.traceparent).toBeUndefined();
    });

    it('verifies a token once, at the gateway: a bad one reaches the service as no one', async () => {
      const res = await gateway.request('/orders', { headers: { authorization: 'Bearer not.a.token' } });
      const ctx = internalAuth.verify(echoed(res.text).headers[IDENTITY_HEADER] as string);
      expect(ctx.actor).toBeUndefined();
    });
  });
});

describe('the API document behind the gateway', () => {
  let catalog: FakeUpstream;
  let orders: FakeUpstream;
  let gateway: RunningGateway;
  const documentOf =
    (paths: Record<string, unknown>) => (_req: unknown, res: import('node:http').ServerResponse) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          openapi: '3.1.0',
          info: { title: 'a service', version: '1' },
          paths,
          components: { schemas: { Thing: { type: 'object' } } },
          tags: [{ name: 'things' }],
        }),
      );

  beforeEach(async () => {
    catalog = await startUpstream(documentOf({ '/products': { get: {} }, '/products/{id}': { get: {} } }));
    // A service that also lists a path it does not own and an internal one: neither is published.
    orders = await startUpstream(
      documentOf({ '/orders': { post: {} }, '/products/secret': { get: {} }, '/internal/x': { post: {} } }),
    );
    gateway = await startGateway(
      gatewayOptions({ catalog: [catalog.url], orders: [orders.url], users: [orders.url] }),
    );
  });
  afterEach(async () => {
    await gateway.close();
    await Promise.all([catalog.close(), orders.close()]);
  });

  it('merges the paths each service owns into the gateway document, at /openapi.json and /docs', async () => {
    const res = await gateway.request('/openapi.json');
    expect(res.status).toBe(200);
    const document = JSON.parse(res.text);
    expect(document.openapi).toBe('3.1.0');
    expect(document.info.title).toBe('Splitshop API');
    expect(Object.keys(document.paths).sort()).toEqual(['/orders', '/products', '/products/{id}']);
    expect(document.components.schemas.Thing).toEqual({ type: 'object' });
    expect(document.components.securitySchemes.bearer).toBeDefined();
    // It asked each service with a valid identity.
    expect(internalAuth.verify(catalog.seen[0]!.headers[IDENTITY_HEADER] as string)).toEqual({});
    expect(catalog.seen[0]!.headers['x-request-id']).toBe('openapi-catalog');
    const ui = await gateway.request('/docs/json');
    expect(Object.keys(JSON.parse(ui.text).paths)).toContain('/orders');
    expect((await gateway.request('/docs')).headers['content-type']).toMatch(/^text\/html/);
  });
});
