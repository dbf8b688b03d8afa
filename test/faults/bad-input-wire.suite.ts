import { expect, it } from 'vitest';
import { newUser, REQUEST_TIMEOUT_MS, type World } from '../support/bad-input.ts';
import { type Attempt, by, createCaseKit, dripFeed } from '../support/bad-input-kit.ts';
import { register, uniqueUsername } from '../support/http-client.ts';

/**
 * Hand-written bad input below the JSON: content types, bytes that are not UTF-8, headers too large,
 * and clients too slow. Each its own test.
 */
export function defineBadWireCases(suite: string, world: () => World): void {
  const { expectRefused, record, snapshot } = createCaseKit(suite, world);

  it('wrong content types are 415 and create nothing; a JSON type on a form body is a 400', async () => {
    const { adminToken, product } = world();
    const buyer = await register(world().client);
    const before = await snapshot(buyer);
    const user = newUser();
    const targets = [
      by(buyer.token)('POST', '/orders', JSON.stringify({ product_id: product.id, quantity: 1 })),
      by(adminToken)('POST', '/products', JSON.stringify({ name: 'Typed', price: 1, stock: 1 })),
      by()('POST', '/auth/register', JSON.stringify(user)),
    ];
    const types = [
      'text/plain',
      'text/html',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/xml',
      'application/octet-stream',
      'application/merge-patch+json',
      'application/jsonx',
      'json',
    ];
    const attempts: Attempt[] = targets.flatMap((t) => [
      ...types.map((contentType) => ({ ...t, contentType })),
      // No Content-Type at all (bytes, so fetch adds none).
      { ...t, body: new TextEncoder().encode(t.body as string), contentType: null },
    ]);
    await expectRefused(attempts, 415, 'UNSUPPORTED_MEDIA_TYPE');
    const forms = targets.map((t) => ({ ...t, body: 'product_id=p1&quantity=1' }));
    await expectRefused(forms, 400, 'VALIDATION_FAILED');
    expect(await snapshot(buyer)).toEqual(before);
    expect((await world().client.request('POST', '/auth/register', { body: user })).status).toBe(201);
    record();
  });

  it('invalid UTF-8, NUL and unpaired surrogates are refused in bodies, paths, query strings and headers', async () => {
    const { adminToken, product } = world();
    const buyer = await register(world().client);
    const before = await snapshot(buyer);
    const [admin, customer, anyone] = [by(adminToken), by(buyer.token), by()];
    const user = newUser();
    const spliced = (head: string, bad: number[], tail: string) =>
      Buffer.concat([Buffer.from(head), Buffer.from(bad), Buffer.from(tail)]);
    const broken = [
      [0xff],
      [0xc0, 0xaf],
      [0xed, 0xa0, 0x80],
      [0xe2, 0x82],
      [0x80],
      [0xf8, 0x88, 0x80, 0x80, 0x80],
    ];
    const attempts: Attempt[] = broken.flatMap((bad) => [
      admin('POST', '/products', spliced('{"name":"Bad', bad, '","price":1,"stock":1}')),
      anyone('POST', '/auth/register', spliced(JSON.stringify(user).slice(0, -2), bad, '"}')),
      customer('POST', '/orders', spliced(`{"product_id":"${product.id}`, bad, '","quantity":1}')),
    ]);
    // Well-formed bytes that spell text no database keeps as sent.
    for (const spelled of ['\\u0000', '\\ud800', '\\udfff', 'a\\udc00b']) {
      attempts.push(
        admin('POST', '/products', `{"name":"Bad${spelled}","price":1,"stock":1}`),
        anyone('POST', '/auth/login', `{"username":"${buyer.user.username}","password":"pw${spelled}"}`),
        customer('POST', '/orders', `{"product_id":"${product.id}${spelled}","quantity":1}`),
      );
    }
    await expectRefused(attempts, 400, 'VALIDATION_FAILED');
    const order = customer('POST', '/orders', JSON.stringify({ product_id: product.id, quantity: 1 }));
    await expectRefused(
      [
        ...['%ff', '%c0%af', '%ed%a0%80', '%e2%82', '%00'].map((s) => anyone('GET', `/products/${s}`)),
        ...['%ff', '%00'].map((s) => customer('GET', `/orders/${s}/events`)),
        admin('GET', '/payments?order_id=%00'),
        admin('GET', '/orders?user_id=a%00b'),
        { ...order, headers: { 'idempotency-key': 'k\u00ff' } },
      ],
      400,
    );
    expect(await snapshot(buyer)).toEqual(before);
    expect((await world().client.request('POST', '/auth/register', { body: user })).status).toBe(201);
    record();
  });

  it('oversized headers are a 431 problem, and the shop keeps serving', async () => {
    const { client } = world();
    const big = 'h'.repeat(20_000);
    const many = Object.fromEntries(Array.from({ length: 2_000 }, (_, i) => [`x-h${i}`, 'vvvvvvvv']));
    const anyone = by();
    await expectRefused(
      [
        { ...anyone('GET', '/products'), headers: { 'x-big': big } },
        { ...anyone('GET', '/products'), headers: many },
        { ...anyone('GET', '/users/me'), headers: { authorization: `Bearer ${big}` } },
        anyone('GET', `/products?cursor=${big}`),
        { ...anyone('POST', '/orders', '{}'), headers: { 'idempotency-key': big } },
      ],
      431,
      'HEADERS_TOO_LARGE',
    );
    // Under the limit, a large header is just a header.
    const fine = await client.request('GET', '/products?limit=1', {
      headers: { 'x-big': big.slice(0, 8_000) },
    });
    expect(fine.status).toBe(200);
    record();
  });

  it('slow clients sending one byte a second are cut off by the request timeout while others are served', async () => {
    const { client } = world();
    const pace = { intervalMs: 1_000, giveUpMs: REQUEST_TIMEOUT_MS * 4 };
    const login = JSON.stringify({ username: uniqueUsername('slow'), password: 'slow-password-1' });
    const slow = [
      // Headers one byte a second…
      ...Array.from({ length: 5 }, () =>
        dripFeed(client.baseUrl, '', Buffer.from('GET /products HTTP/1.1\r\nHost: shop\r\n\r\n'), pace),
      ),
      // …and a body one byte a second after prompt headers.
      ...Array.from({ length: 5 }, () =>
        dripFeed(
          client.baseUrl,
          `POST /auth/login HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\nContent-Length: ${login.length}\r\n\r\n`,
          Buffer.from(login),
          pace,
        ),
      ),
    ];
    let over = false;
    const outcomes = Promise.all(slow).finally(() => {
      over = true;
    });
    const served: number[] = [];
    while (!over) {
      const answers = await Promise.all([
        client.request('GET', '/products?limit=1'),
        client.request('GET', '/health/live'),
      ]);
      served.push(...answers.map((a) => a.status));
      await new Promise((r) => setTimeout(r, 250));
    }
    for (const { response, finished, closedByServer } of await outcomes) {
      // Cut off by the server before the client was done, with the timeout's own problem document.
      expect({ closedByServer, finished }).toEqual({ closedByServer: true, finished: false });
      expect(response).toMatch(/^HTTP\/1\.1 408 /);
      expect(response).toMatch(/\r\ncontent-type: application\/problem\+json\r\n/i);
      const problem = JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4));
      expect(problem).toMatchObject({ status: 408, code: 'REQUEST_TIMEOUT' });
    }
    // Meanwhile everyone else was served, throughout.
    expect(served.length).toBeGreaterThan(10);
    expect(served.every((status) => status === 200)).toBe(true);
    record(slow.length);
  }, 120_000);
}
