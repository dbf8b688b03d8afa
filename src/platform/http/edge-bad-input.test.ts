import { connect } from 'node:net';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import Type from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEdge } from './server.ts';

/** Sends raw bytes, then `drip` one byte every 50 ms, and reads until the server closes the connection. */
function raw(url: string, request: string, drip = ''): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    let sent = 0;
    const socket = connect({ host: hostname, port: Number(port) }, () => socket.write(request));
    // Never idle, so only the request time limit can end it, not the idle one.
    const timer = setInterval(() => {
      if (sent < drip.length && socket.writable) socket.write(drip[sent++]!);
    }, 50);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      clearInterval(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

describe('the edge refuses bad input with problem documents', () => {
  let app: FastifyInstance;
  let url: string;
  beforeAll(async () => {
    app = await createEdge({
      log: pino({ level: 'silent' }),
      bodyLimitBytes: 4096,
      requestTimeoutMs: 300,
      auth: {
        secret: 'bad-input-test-secret-0123456789-0123456789',
        ttlSeconds: 900,
        issuer: 'splitshop',
        audience: 'splitshop-api',
        clockSkewSeconds: 0,
      },
      rateLimit: { max: 1000, windowSeconds: 60 },
    });
    app.post('/things', { schema: { body: Type.Object({ s: Type.String() }) } }, async (r) => r.body);
    app.get('/things/:id', { schema: { params: Type.Object({ id: Type.String() }) } }, async (r) => r.params);
    app.get('/search', async (r) => r.query);
    url = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => app.close());

  const post = (payload: string | Buffer) =>
    app.inject({ method: 'POST', url: '/things', payload, headers: { 'content-type': 'application/json' } });

  it.each([
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0x73, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d])],
    ['an overlong encoding', Buffer.from([0x7b, 0x22, 0x73, 0x22, 0x3a, 0x22, 0xc0, 0xaf, 0x22, 0x7d])],
    ['a NUL escape', '{"s":"a\\u0000b"}'],
    ['a lone surrogate escape', '{"s":"\\ud800"}'],
    ['a lone surrogate in a key', '{"s":"x","\\udc00":1}'],
  ])('refuses a body with %s', async (_, payload) => {
    const res = await post(payload);
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it.each([
    ['a surrogate pair', '{"s":"\\ud83d\\ude00"}', '\u{1f600}'],
    ['an escaped backslash before u0000', '{"s":"\\\\u0000"}', '\\u0000'],
    ['UTF-8 text', '{"s":"caf\u00e9"}', 'caf\u00e9'],
  ])('accepts %s', async (_, payload, s) => {
    const res = await post(payload);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ s });
  });

  it('answers a URL the router cannot decode, and a parameter too long, with problems', async () => {
    const bad = await app.inject({ url: '/things/%E0%A4%A', headers: { 'x-request-id': 'r-1' } });
    expect([bad.statusCode, bad.headers['content-type'], bad.headers['x-request-id']]).toEqual([
      400,
      expect.stringMatching(/^application\/problem\+json/),
      'r-1',
    ]);
    const long = await app.inject({ url: `/things/${'a'.repeat(201)}` });
    expect([long.statusCode, long.json().code]).toEqual([414, 'URI_TOO_LONG']);
  });

  it('refuses a NUL anywhere in the URL', async () => {
    for (const path of ['/things/a%00', '/search?q=%00']) {
      const res = await app.inject({ url: path });
      expect([res.statusCode, res.json().code]).toEqual([400, 'VALIDATION_FAILED']);
    }
  });

  it('answers headers too large with a 431 problem', async () => {
    const answer = await raw(url, `GET /search HTTP/1.1\r\nHost: x\r\nX-Big: ${'h'.repeat(20_000)}\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({
      status: 431,
      code: 'HEADERS_TOO_LARGE',
    });
  });

  it('answers a body sent one byte at a time with a 408 problem when the request time is up', async () => {
    const answer = await raw(
      url,
      'POST /things HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n',
      `{"s":"${'x'.repeat(42)}"}`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toContain('"code":"REQUEST_TIMEOUT"');
  });
});
