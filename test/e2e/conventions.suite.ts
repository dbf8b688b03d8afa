import { describe, expect, it } from 'vitest';
import { expectProblem, register, type ShopAccessor } from '../support/http-client.ts';

interface Health {
  status: string;
  checks: Record<string, unknown>;
}

interface OpenApiDocument {
  openapi: string;
  paths: Record<string, unknown>;
}

export function defineConventionsSuite(shop: ShopAccessor): void {
  describe('health', () => {
    it('/health/live answers 200', async () => {
      expect((await shop().client.request('GET', '/health/live')).status).toBe(200);
    });

    it.each([
      ['/health/ready', 'ready'],
      ['/health', 'healthy'],
    ])('%s answers 200 %s with its checks', async (path, status) => {
      const res = await shop().client.request<Health>('GET', path);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status, checks: expect.any(Object) });
    });
  });

  describe('request ids', () => {
    it('echoes a sane X-Request-Id', async () => {
      const res = await shop().client.request('GET', '/health/live', {
        headers: { 'x-request-id': 'abc-123' },
      });
      expect(res.headers.get('x-request-id')).toBe('abc-123');
    });

    it.each([
      { what: '300 characters long', id: 'a'.repeat(300) },
      { what: 'containing spaces', id: 'abc 123 def' },
      { what: 'containing a line of JSON', id: '{"level":60}' },
    ])('replaces an X-Request-Id $what with a new one', async ({ id }) => {
      const res = await shop().client.request('GET', '/products?limit=1', {
        headers: { 'x-request-id': id },
      });
      const answered = res.headers.get('x-request-id');
      expect(answered).toEqual(expect.any(String));
      expect(answered).not.toBe(id);
      expect(answered!.length).toBeGreaterThan(0);
    });

    it('gives every response a request id, a new one each time, and puts it in problems', async () => {
      const { client } = shop();
      const a = await client.request('GET', '/products?limit=1');
      const b = await client.request('GET', '/products?limit=1');
      expect(a.headers.get('x-request-id')).toEqual(expect.any(String));
      expect(a.headers.get('x-request-id')).not.toBe(b.headers.get('x-request-id'));
      const problem = await client.request('GET', '/users/me', {
        headers: { 'x-request-id': 'trace-me-42' },
      });
      expect(expectProblem(problem, 401, 'UNAUTHORIZED').request_id).toBe('trace-me-42');
    });
  });

  describe('errors and bodies', () => {
    it('an unknown route is a 404 NOT_FOUND problem', async () => {
      expectProblem(await shop().client.request('GET', '/no/such/route'), 404, 'NOT_FOUND');
      expectProblem(await shop().client.request('POST', '/v1/no-such-thing', { body: {} }), 404, 'NOT_FOUND');
    });

    it('a body over 1 MiB is 413 PAYLOAD_TOO_LARGE, every time, not a reset while the client still sends', async () => {
      const { client } = shop();
      const { token } = await register(client);
      // 2 MiB: answered before it has all arrived, so closing at once would reset it (EPIPE) now and then.
      const rawBody = JSON.stringify({ product_id: 'x'.repeat(2 * 1024 * 1024), quantity: 1 });
      for (let i = 0; i < 50; i++) {
        const res = await client.request('POST', '/orders', {
          token,
          rawBody,
          contentType: 'application/json',
        });
        expectProblem(res, 413, 'PAYLOAD_TOO_LARGE');
      }
    });

    it('malformed JSON is a 400 problem', async () => {
      const { client } = shop();
      const { token } = await register(client);
      const res = await client.request('POST', '/orders', {
        token,
        rawBody: '{"product_id": "p1", "quantity": ',
        contentType: 'application/json',
      });
      expectProblem(res, 400, 'VALIDATION_FAILED');
    });

    it('a body that is not JSON is 415 UNSUPPORTED_MEDIA_TYPE', async () => {
      const { client } = shop();
      const { token } = await register(client);
      const res = await client.request('POST', '/orders', {
        token,
        rawBody: 'product_id=p1&quantity=1',
        contentType: 'text/plain',
      });
      expectProblem(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
    });
  });

  describe('documentation', () => {
    it('GET /openapi.json is an OpenAPI 3.1 document listing /orders', async () => {
      const res = await shop().client.request<OpenApiDocument>('GET', '/openapi.json');
      expect(res.status).toBe(200);
      expect(res.body.openapi).toMatch(/^3\.1\./);
      expect(Object.keys(res.body.paths).some((p) => /^(\/v[12])?\/orders$/.test(p))).toBe(true);
    });

    it('GET /docs is a browsable HTML page', async () => {
      const res = await shop().client.request('GET', '/docs');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    });
  });
}
