import { createHmac } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { callContext } from '../http/context.ts';
import { createEdge } from '../http/server.ts';
import { createInternalAuth, IDENTITY_HEADER } from '../rpc/identity.ts';
import {
  gatewayOptions,
  INTERNAL_SECRET,
  internalAuth,
  type RunningGateway,
  startGateway,
} from './test-support.ts';

const auth = {
  secret: 'service-jwt-secret-0123456789-0123456789',
  ttlSeconds: 900,
  issuer: 'splitshop',
  audience: 'splitshop-api',
  clockSkewSeconds: 0,
};

/** A service process behind the gateway, with a route that says who called and from where. */
async function createService(): Promise<FastifyInstance> {
  const app = await createEdge({
    log: pino({ level: 'silent' }),
    bodyLimitBytes: 4096,
    requestTimeoutMs: 5000,
    auth,
    identity: 'internal',
    internalAuth: createInternalAuth(INTERNAL_SECRET),
  });
  app.get('/health/live', async () => ({ status: 'alive' }));
  app.get('/whoami', async (request) => ({ ctx: callContext(request), ip: request.ip }));
  app.get('/orders', { preHandler: app.requireUser }, async (request) => ({ actor: request.actor }));
  app.post('/auth/login', async () => app.issueToken({ id: 'u-1', role: 'customer' }));
  await app.ready();
  return app;
}

describe('identity tokens', () => {
  it('are HS256 JWTs with the actor, the internal audience and a one-minute life', () => {
    const token = internalAuth.sign({ id: 'u1', role: 'admin' });
    const [header, payload, signature] = token.split('.');
    const decode = (part: string | undefined) => JSON.parse(Buffer.from(part ?? '', 'base64url').toString());
    expect(decode(header)).toEqual({ alg: 'HS256', typ: 'JWT' });
    const claims = decode(payload);
    expect(claims).toMatchObject({ sub: 'u1', role: 'admin', aud: 'splitshop-internal' });
    expect(claims.exp - claims.iat).toBe(60);
    const expected = createHmac('sha256', INTERNAL_SECRET).update(`${header}.${payload}`).digest('base64url');
    expect(signature).toBe(expected);
    expect(internalAuth.verify(token).actor).toEqual({ id: 'u1', role: 'admin', sessionVersion: 0 });
    expect(internalAuth.verify(internalAuth.sign(undefined))).toEqual({});
  });

  it('are signed once per actor and reused for half their life, then signed anew', () => {
    vi.useFakeTimers({ now: Date.parse('2026-11-24T10:00:00Z') });
    try {
      // Its own signer: one shared with the other tests would hold tokens signed at the real time.
      const internalAuth = createInternalAuth(INTERNAL_SECRET);
      const admin = internalAuth.sign({ id: 'u1', role: 'admin' });
      expect(internalAuth.sign({ id: 'u1', role: 'admin' })).toBe(admin);
      expect(internalAuth.sign({ id: 'u1', role: 'customer' })).not.toBe(admin);
      expect(internalAuth.sign({ id: 'u2', role: 'admin' })).not.toBe(admin);
      vi.advanceTimersByTime(31_000);
      const renewed = internalAuth.sign({ id: 'u1', role: 'admin' });
      expect(renewed).not.toBe(admin);
      expect(internalAuth.verify(renewed).actor).toEqual({ id: 'u1', role: 'admin', sessionVersion: 0 });
    } finally {
      vi.useRealTimers();
    }
  });

  it('are judged each on its own on one connection: another, a forged or an expired one, whatever came last', () => {
    vi.useFakeTimers({ now: Date.parse('2026-11-24T10:00:00Z') });
    try {
      const internalAuth = createInternalAuth(INTERNAL_SECRET);
      const connection = {};
      const admin = internalAuth.sign({ id: 'u1', role: 'admin' });
      const customer = internalAuth.sign({ id: 'u2', role: 'customer' });
      expect(internalAuth.verify(admin, connection).actor).toEqual({
        id: 'u1',
        role: 'admin',
        sessionVersion: 0,
      });
      expect(internalAuth.verify(admin, connection).actor).toEqual({
        id: 'u1',
        role: 'admin',
        sessionVersion: 0,
      });
      expect(() => internalAuth.verify(`${admin.slice(0, -2)}xx`, connection)).toThrow(/not valid/);
      expect(internalAuth.verify(customer, connection).actor).toEqual({
        id: 'u2',
        role: 'customer',
        sessionVersion: 0,
      });
      expect(internalAuth.verify(admin, connection).actor).toEqual({
        id: 'u1',
        role: 'admin',
        sessionVersion: 0,
      });
      vi.advanceTimersByTime(60_001);
      expect(() => internalAuth.verify(admin, connection)).toThrow(/not valid/);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('a service behind the gateway (identity: internal)', () => {
  let service: FastifyInstance;
  beforeEach(async () => {
    service = await createService();
  });
  afterEach(() => service.close());

  const signed = (ctx: Parameters<typeof internalAuth.sign>[0]) => ({
    [IDENTITY_HEADER]: internalAuth.sign(ctx),
  });

  it('refuses a request without an identity, or with a forged one, with 401', async () => {
    const forger = createInternalAuth('another-secret-another-secret-another-secret');
    const cases: Array<Record<string, string>> = [
      {},
      { [IDENTITY_HEADER]: 'not-a-token' },
      { [IDENTITY_HEADER]: forger.sign({ id: 'root', role: 'admin' }) },
      { [IDENTITY_HEADER]: `${internalAuth.sign(undefined).slice(0, -2)}xx` },
    ];
    for (const headers of cases) {
      for (const url of ['/whoami', '/orders', '/no/such/route', '/openapi.json']) {
        const res = await service.inject({ url, headers });
        expect(res.statusCode, `${url} ${JSON.stringify(headers)}`).toBe(401);
        expect(res.json().code).toBe('UNAUTHORIZED');
      }
    }
  });

  it('ignores Authorization: a valid bearer token alone gets nowhere, and names no one', async () => {
    const bearer = {
      authorization: `Bearer ${service.issueToken({ id: 'u-1', role: 'admin' }).access_token}`,
    };
    expect((await service.inject({ url: '/orders', headers: bearer })).statusCode).toBe(401);
    const anonymous = await service.inject({
      url: '/orders',
      headers: { ...bearer, ...signed(undefined) },
    });
    expect(anonymous.statusCode).toBe(401);
  });

  it('takes the actor from a valid identity, and the request id and trace context beside it', async () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const res = await service.inject({
      url: '/whoami',
      headers: {
        ...signed({ id: 'u-7', role: 'customer' }),
        'x-request-id': 'req-from-gateway',
        traceparent,
      },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-request-id']).toBe('req-from-gateway');
    expect(res.json().ctx).toEqual({
      requestId: 'req-from-gateway',
      actor: { id: 'u-7', role: 'customer', sessionVersion: 0 },
      traceparent,
    });
    const malformed = await service.inject({
      url: '/whoami',
      headers: { ...signed({ id: 'u-7', role: 'customer' }), traceparent: 'not-a-trace' },
    });
    expect(malformed.json().ctx.traceparent).toBeUndefined();
    const orders = await service.inject({
      url: '/orders',
      headers: signed({ id: 'u-7', role: 'customer' }),
    });
    expect(orders.json()).toEqual({ actor: { id: 'u-7', role: 'customer', sessionVersion: 0 } });
  });

  it('answers health checks without an identity', async () => {
    expect((await service.inject({ url: '/health/live' })).statusCode).toBe(200);
  });

  it('does not rate-limit, and still issues tokens', async () => {
    const res = await service.inject({
      method: 'POST',
      url: '/auth/login',
      headers: signed(undefined),
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers.ratelimit).toBeUndefined();
    expect(res.headers['ratelimit-policy']).toBeUndefined();
    expect(res.json()).toMatchObject({ access_token: expect.any(String), token_type: 'Bearer' });
  });

  it("takes the client's address from the X-Forwarded-For the gateway wrote", async () => {
    const res = await service.inject({
      url: '/whoami',
      headers: { ...signed(undefined), 'x-forwarded-for': '203.0.113.9' },
      remoteAddress: '10.0.0.2',
    });
    expect(res.json().ip).toBe('203.0.113.9');
  });

  it('cannot be set up without the internal credential', async () => {
    await expect(
      createEdge({
        log: pino({ level: 'silent' }),
        bodyLimitBytes: 1024,
        requestTimeoutMs: 1000,
        auth,
        identity: 'internal',
      }),
    ).rejects.toThrow(/internalAuth/);
  });
});

describe('the gateway in front of a service', () => {
  let service: FastifyInstance;
  let gateway: RunningGateway;
  beforeEach(async () => {
    service = await createService();
    const url = await service.listen({ port: 0, host: '127.0.0.1' });
    gateway = await startGateway(
      gatewayOptions(
        { orders: [url], catalog: [url], users: [url] },
        {
          routes: [
            { prefix: '/orders', service: 'orders' },
            { prefix: '/whoami', service: 'users' },
            { prefix: '/auth', service: 'users' },
          ],
        },
      ),
    );
  });
  afterEach(async () => {
    await gateway.close();
    await service.close();
  });

  it('carries the verified actor and the client address to the service, which trusts nothing else', async () => {
    const token = gateway.app.issueToken({ id: 'u-9', role: 'customer' }).access_token;
    const through = await gateway.request('/orders', { headers: { authorization: `Bearer ${token}` } });
    expect(through.status).toBe(200);
    expect(JSON.parse(through.text)).toEqual({ actor: { id: 'u-9', role: 'customer', sessionVersion: 0 } });
    const who = await gateway.request('/whoami', { headers: { 'x-request-id': 'abc-1' } });
    expect(JSON.parse(who.text)).toEqual({ ctx: { requestId: 'abc-1' }, ip: '127.0.0.1' });
    expect((await gateway.request('/orders')).status).toBe(401);
    const login = await gateway.request('/auth/login', { method: 'POST' });
    expect(JSON.parse(login.text).token_type).toBe('Bearer');
  });
});
