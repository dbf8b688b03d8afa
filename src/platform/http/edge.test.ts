import { createHmac } from 'node:crypto';
import { connect } from 'node:net';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import Type from 'typebox';
import { Client } from 'undici';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { callContext } from './context.ts';
import { LINGER } from './linger.ts';
import { createEdge } from './server.ts';

const SECRET = 'edge-test-secret-0123456789-0123456789';
const auth = {
  secret: SECRET,
  ttlSeconds: 900,
  issuer: 'splitshop',
  audience: 'splitshop-api',
  clockSkewSeconds: 0,
};

function hs256(header: object, payload: object, secret = SECRET): string {
  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${enc(header)}.${enc(payload)}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

describe('the edge', () => {
  let app: FastifyInstance;
  beforeEach(async () => {
    app = await createEdge({
      log: pino({ level: 'silent' }),
      bodyLimitBytes: 1024,
      requestTimeoutMs: 5000,
      auth,
      rateLimit: { max: 20, windowSeconds: 60 },
    });
    app.post(
      '/things',
      { schema: { body: Type.Object({ n: Type.Integer() }, { additionalProperties: false }) } },
      async (request) => ({ version: request.apiVersion, body: request.body }),
    );
    app.get(
      '/things',
      { schema: { querystring: Type.Object({ limit: Type.Integer({ maximum: 10 }) }) } },
      async (r) => r.query,
    );
    app.get('/mine', { preHandler: app.requireUser }, async (request) => callContext(request));
    app.get('/admin', { preHandler: app.requireAdmin }, async () => ({ ok: true }));
    app.get('/boom', async () => {
      throw new Error('secret internal detail');
    });
    await app.ready();
  });
  afterEach(() => app.close());

  const token = (claims: object = {}) =>
    app.issueToken({ id: 'u1', role: 'customer', ...claims }).access_token;

  it('answers unknown routes with a problem document carrying the request id it echoes', async () => {
    const res = await app.inject({ url: '/nope', headers: { 'x-request-id': 'abc-123' } });
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.headers['x-request-id']).toBe('abc-123');
    expect(res.json()).toMatchObject({ status: 404, code: 'NOT_FOUND', request_id: 'abc-123' });
  });

  it('replaces a request id that is not sane', async () => {
    const res = await app.inject({ url: '/nope', headers: { 'x-request-id': 'has spaces and <tags>' } });
    expect(res.headers['x-request-id']).not.toBe('has spaces and <tags>');
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('serves /v1 and /v2 from one route table and says which version answered', async () => {
    const v2 = await app.inject({ method: 'POST', url: '/v2/things', payload: { n: 1 } });
    expect(v2.json()).toEqual({ version: 2, body: { n: 1 } });
    expect(v2.headers['api-version']).toBe('2');
    const header = await app.inject({
      method: 'POST',
      url: '/things',
      payload: { n: 1 },
      headers: { 'api-version': '2' },
    });
    expect(header.json().version).toBe(2);
    const plain = await app.inject({ method: 'POST', url: '/things', payload: { n: 1 } });
    expect(plain.headers['api-version']).toBe('1');
    const bad = await app.inject({
      method: 'POST',
      url: '/things',
      payload: { n: 1 },
      headers: { 'api-version': '3' },
    });
    expect(bad.json().code).toBe('UNSUPPORTED_API_VERSION');
  });

  it('never coerces body types, rejects unknown fields, and lists what is wrong', async () => {
    for (const payload of [{ n: '1' }, { n: true }, { n: 1.5 }, { n: 1, role: 'admin' }, {}]) {
      const res = await app.inject({ method: 'POST', url: '/things', payload });
      expect(res.statusCode).toBe(400);
      expect(res.json().code).toBe('VALIDATION_FAILED');
      expect(res.json().errors.length).toBeGreaterThan(0);
    }
  });

  it('coerces query strings, which are text, and still validates them', async () => {
    expect((await app.inject({ url: '/things?limit=5' })).json()).toEqual({ limit: 5 });
    expect((await app.inject({ url: '/things?limit=abc' })).statusCode).toBe(400);
    expect((await app.inject({ url: '/things?limit=11' })).statusCode).toBe(400);
    expect((await app.inject({ url: '/things?limit=-3' })).json()).toEqual({ limit: -3 });
  });

  it('takes numbers in query strings only as decimals, not as anything JavaScript would read as one', async () => {
    for (const limit of ['0x10', '1e1', '0b11', '%207', '7%20', '', '+7', '7.0', 'Infinity']) {
      const res = await app.inject({ url: `/things?limit=${limit}` });
      expect(res.statusCode, limit).toBe(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.json().code).toBe('VALIDATION_FAILED');
    }
  });

  it('answers bad bodies with 4xx problems: malformed, prototype poisoning, too large, wrong type', async () => {
    const post = (payload: string, type = 'application/json') =>
      app.inject({ method: 'POST', url: '/things', payload, headers: { 'content-type': type } });
    expect((await post('{"n":')).json()).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
    expect((await post('{"n":1,"__proto__":{"x":1}}')).statusCode).toBe(400);
    expect((await post('{"n":1,"constructor":{"prototype":{"x":1}}}')).statusCode).toBe(400);
    expect((await post(JSON.stringify({ n: 1, pad: 'x'.repeat(2000) }))).json().code).toBe(
      'PAYLOAD_TOO_LARGE',
    );
    expect((await post('n=1', 'text/plain')).json().code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('reads the rest of a body it refused before answering on, keeping the connection; past LINGER.bytes it cuts it', async () => {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };
    const socket = connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    socket.on('data', (chunk) => received.push(chunk));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => {});
    const head = (length: number) =>
      `POST /things HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;
    // Over the limit by its declared length: answered at once, then drained, and the connection serves on.
    socket.write(head(4096));
    await expect.poll(() => Buffer.concat(received).toString()).toContain('PAYLOAD_TOO_LARGE');
    expect(Buffer.concat(received).toString()).not.toMatch(/connection: close/i);
    socket.write('x'.repeat(4096));
    socket.write(`GET /health HTTP/1.1\r\nHost: x\r\n\r\n`);
    await expect.poll(() => Buffer.concat(received).toString()).toMatch(/HTTP\/1\.1 404/);
    // A body that never ends is read only so far: the server cuts the connection past the bound.
    socket.write(head(LINGER.bytes * 4));
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let sent = 0;
    while (!socket.destroyed && sent < LINGER.bytes * 3) {
      if (!socket.write(chunk))
        await new Promise((resolve) => socket.once('drain', resolve).once('close', resolve));
      sent += chunk.length;
    }
    await closed;
    expect(sent).toBeGreaterThan(LINGER.bytes);
    expect(sent).toBeLessThan(LINGER.bytes * 3);
  });

  it('hides the message of an internal error', async () => {
    const res = await app.inject({ url: '/boom' });
    expect(res.statusCode).toBe(500);
    expect(res.body).not.toContain('secret internal detail');
    expect(res.json().code).toBe('INTERNAL');
  });

  it('issues tokens that expire after the configured time, as the answer says', () => {
    const issued = app.issueToken({ id: 'u1', role: 'customer' });
    const claims = JSON.parse(Buffer.from(issued.access_token.split('.')[1]!, 'base64url').toString());
    expect(claims.exp - claims.iat).toBe(auth.ttlSeconds);
    expect(issued.expires_in).toBe(auth.ttlSeconds);
  });

  it('accepts its own tokens and builds the call context from them', async () => {
    const res = await app.inject({
      url: '/mine',
      headers: { authorization: `Bearer ${token()}`, 'x-request-id': 'r1' },
    });
    expect(res.json()).toEqual({ requestId: 'r1', actor: { id: 'u1', role: 'customer', sessionVersion: 0 } });
  });

  it('refuses alg none, another algorithm, a foreign key, a tampered payload, expiry and missing claims', async () => {
    const now = Math.floor(Date.now() / 1000);
    const base = {
      sub: 'u1',
      role: 'admin',
      iat: now,
      exp: now + 600,
      iss: 'splitshop',
      aud: 'splitshop-api',
    };
    const good = token();
    const [h, , s] = good.split('.');
    const tampered = `${h}.${Buffer.from(JSON.stringify(base)).toString('base64url')}.${s}`;
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify(base)).toString('base64url')}.`;
    const cases = [
      none,
      hs256({ alg: 'HS512', typ: 'JWT' }, base),
      hs256({ alg: 'HS256', typ: 'JWT' }, base, 'another-secret-another-secret-another'),
      tampered,
      hs256({ alg: 'HS256', typ: 'JWT' }, { ...base, iat: now - 1000, exp: now - 10 }),
      hs256({ alg: 'HS256', typ: 'JWT' }, { ...base, exp: undefined }),
      hs256({ alg: 'HS256', typ: 'JWT' }, { ...base, iss: 'someone-else' }),
      hs256({ alg: 'HS256', typ: 'JWT' }, { ...base, aud: 'another-api' }),
      hs256({ alg: 'HS256', typ: 'JWT' }, { ...base, nbf: now + 600 }),
      hs256({ alg: 'HS256', typ: 'JWT' }, { ...base, role: 'root' }),
      'not-a-token',
    ];
    for (const t of cases) {
      const res = await app.inject({ url: '/admin', headers: { authorization: `Bearer ${t}` } });
      expect(res.statusCode, t).toBe(401);
    }
    const control = hs256({ alg: 'HS256', typ: 'JWT' }, base);
    expect(
      (await app.inject({ url: '/admin', headers: { authorization: `Bearer ${control}` } })).statusCode,
    ).toBe(200);
  });

  it('judges each token a connection brings on its own: another, a tampered or an expired one, however often the last came', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };
    // One connection for every request, where the token it brought last is remembered.
    const client = new Client(`http://127.0.0.1:${port}`);
    try {
      const ask = async (authorization: string) => {
        const res = await client.request({ path: '/mine', method: 'GET', headers: { authorization } });
        return { status: res.statusCode, body: (await res.body.json()) as { actor?: { id: string } } };
      };
      const first = `Bearer ${token()}`;
      const second = `Bearer ${app.issueToken({ id: 'u2', role: 'customer' }).access_token}`;
      expect((await ask(first)).body.actor?.id).toBe('u1');
      expect((await ask(second)).body.actor?.id).toBe('u2');
      expect((await ask(first)).body.actor?.id).toBe('u1');
      expect((await ask(first)).body.actor?.id).toBe('u1');
      // The same token, with its signature changed, is another header: it is verified, and refused.
      expect((await ask(`${first.slice(0, -2)}xx`)).status).toBe(401);
      expect((await ask(first)).body.actor?.id).toBe('u1');
      vi.advanceTimersByTime(auth.ttlSeconds * 1000 + 1);
      expect((await ask(first)).status).toBe(401);
    } finally {
      vi.useRealTimers();
      await client.close();
    }
  });

  it('lets a customer in as a user but not as an admin', async () => {
    expect(
      (await app.inject({ url: '/admin', headers: { authorization: `Bearer ${token()}` } })).statusCode,
    ).toBe(403);
    expect((await app.inject({ url: '/admin' })).statusCode).toBe(401);
  });

  it('limits requests per user with Retry-After and RateLimit headers, and leaves health alone', async () => {
    const headers = { authorization: `Bearer ${token()}` };
    let last = await app.inject({ url: '/mine', headers });
    expect(last.headers['ratelimit-policy']).toBe('"default";q=20;w=60');
    expect(last.headers.ratelimit).toMatch(/^"default";r=19;t=\d+$/);
    for (let i = 0; i < 20; i++) last = await app.inject({ url: '/mine', headers });
    expect(last.statusCode).toBe(429);
    expect(last.json().code).toBe('RATE_LIMITED');
    expect(Number(last.headers['retry-after'])).toBeGreaterThan(0);
    // Another user (and the anonymous address) still has their own budget.
    const other = app.issueToken({ id: 'u2', role: 'customer' }).access_token;
    expect(
      (await app.inject({ url: '/mine', headers: { authorization: `Bearer ${other}` } })).statusCode,
    ).toBe(200);
  });
});
