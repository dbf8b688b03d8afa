import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createInternalAuth, IDENTITY_HEADER } from '../../../src/platform/rpc/identity.ts';
import { TEST_INTERNAL_SECRET } from '../split.ts';
import { exchangeRaw, type RawResponse, send, statusesOf } from './raw-http.ts';
import { createTally, productNow, type Target } from './world.ts';

const RESERVE = 'catalog/reserveStock';

/**
 * Spellings of `/internal/catalog/reserveStock` a normalizing server, proxy or framework might take
 * for it: encoded and doubled slashes, dot segments plain and encoded, backslashes, path parameters,
 * NUL and other escapes, overlong UTF-8, letter case, and version prefixes.
 */
const SPELLINGS = [
  `/internal/${RESERVE}`,
  `/INTERNAL/${RESERVE}`,
  `/Internal/${RESERVE}`,
  `/%69nternal/${RESERVE}`,
  `/%49NTERNAL/${RESERVE}`,
  '/internal%2Fcatalog%2FreserveStock',
  '/internal%2fcatalog%2freserveStock',
  `/%2Finternal/${RESERVE}`,
  `/%2finternal/${RESERVE}`,
  `/products%2F..%2Finternal/${RESERVE}`,
  `/products/..%2Finternal/${RESERVE}`,
  `/products/%2e%2e/internal/${RESERVE}`,
  `/products/%2E%2E/internal/${RESERVE}`,
  `/products/.%2e/internal/${RESERVE}`,
  `/products/../internal/${RESERVE}`,
  `/products/./../internal/${RESERVE}`,
  `/./internal/${RESERVE}`,
  `/%2e/internal/${RESERVE}`,
  `/internal/./${RESERVE}`,
  `/internal/catalog/../${RESERVE}`,
  '/products/%2e%2e%2finternal%2fcatalog%2freserveStock',
  `//internal/${RESERVE}`,
  `///internal/${RESERVE}`,
  `/products//../internal/${RESERVE}`,
  '/internal//catalog/reserveStock',
  '\\internal\\catalog\\reserveStock',
  `/\\internal/${RESERVE}`,
  `/products\\..\\internal/${RESERVE}`,
  `/%5Cinternal/${RESERVE}`,
  `/products/..%5Cinternal/${RESERVE}`,
  `/products/%2E%2E%5Cinternal/${RESERVE}`,
  `/internal;/${RESERVE}`,
  '/internal;a=b/catalog/reserveStock',
  `/products/..;/internal/${RESERVE}`,
  `/products;/../internal/${RESERVE}`,
  `/internal%3B/${RESERVE}`,
  `/internal%00/${RESERVE}`,
  `/products%00/../internal/${RESERVE}`,
  `/internal/${RESERVE}%00`,
  `/%00/internal/${RESERVE}`,
  `/internal%09/${RESERVE}`,
  `/internal%20/${RESERVE}`,
  `/internal/${RESERVE}/`,
  `/internal/${RESERVE}?x=1`,
  `/internal/${RESERVE}#x`,
  `/%252e%252e/internal/${RESERVE}`,
  `/products/%252e%252e/%252e%252e/internal/${RESERVE}`,
  `/products/%u002e%u002e/internal/${RESERVE}`,
  `/products/%c0%ae%c0%ae/internal/${RESERVE}`,
  `/products/%e0%80%ae%e0%80%ae/internal/${RESERVE}`,
  `/V1/internal/${RESERVE}`,
  `/v1internal/${RESERVE}`,
  `/v1%2Finternal/${RESERVE}`,
  `/v1/v2/internal/${RESERVE}`,
];

/** Every spelling as it is, under `/v1` and under `/v2`. */
const PATHS = SPELLINGS.flatMap((path) => [path, `/v1${path}`, `/v2${path}`]);

/** The other modules' internal routes, each with a call that would answer `result` if it were served. */
const OTHER_ROUTES = [
  'users/getUser',
  'orders/listOrders',
  'payments/listPayments',
  'notifications/listNotifications',
];

const reserveBody = (productId: string) => ({
  args: [{ reservation_id: randomUUID(), items: [{ product_id: productId, quantity: 1 }] }],
});

/** Refused: a 4xx that is not the answer of an internal call. */
const refusedAnswer = (res: RawResponse) =>
  res.status >= 400 && res.status < 500 && !res.text.includes('"result"');

/** Raw requests node:http will not write: absolute form, another Host, literal bytes, smuggling, pipelining. */
function rawProbes(target: Target, token: string, body: string): Array<{ what: string; bytes: string }> {
  const catalog = target.catalogUrl ? new URL(target.catalogUrl).host : '127.0.0.1:1';
  const call = (line: string, host = 'shop') =>
    `${line}\r\nHost: ${host}\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  const smuggled = call(`POST /internal/${RESERVE} HTTP/1.1`);
  const prefix = '0\r\n\r\n';
  return [
    {
      what: 'absolute form naming the catalog',
      bytes: call(`POST http://${catalog}/internal/${RESERVE} HTTP/1.1`, catalog),
    },
    { what: 'Host of the catalog', bytes: call(`POST /internal/${RESERVE} HTTP/1.1`, catalog) },
    { what: 'literal NUL', bytes: call(`POST /internal\0/${RESERVE} HTTP/1.1`) },
    { what: 'literal tab', bytes: call(`POST /products/..\t/internal/${RESERVE} HTTP/1.1`) },
    {
      what: 'HTTP/1.0 without Host',
      bytes: call(`POST /internal/${RESERVE} HTTP/1.0`).replace('Host: shop\r\n', ''),
    },
    {
      what: 'CL.TE smuggling',
      bytes: `POST /products HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\nContent-Length: ${prefix.length + smuggled.length}\r\nTransfer-Encoding: chunked\r\n\r\n${prefix}${smuggled}`,
    },
    {
      what: 'obfuscated Transfer-Encoding',
      bytes: `POST /products HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\nContent-Length: ${prefix.length}\r\n\r\n${prefix}${smuggled}`,
    },
    {
      what: 'pipelined after another request',
      bytes: `GET /no-such-route HTTP/1.1\r\nHost: shop\r\n\r\n${smuggled}`,
    },
  ];
}

/** Internal routes are unreachable through the public entry points, however their path is spelled. */
export function definePathCases(target: () => Target): void {
  describe('internal routes', () => {
    it('are unreachable through every gateway by any spelling of their path', async () => {
      const t = target();
      const { world } = t;
      const token = world.customers[0]!.token;
      const productId = world.product.id;
      if (t.catalogUrl !== undefined) {
        // Control: the probe does take stock when it reaches the catalog, as a caller with the secret.
        const before = (await productNow(t)).stock;
        const identity = createInternalAuth(TEST_INTERNAL_SECRET).sign({
          id: world.customers[0]!.user.id,
          role: 'customer',
        });
        const direct = await send(t.catalogUrl, {
          method: 'POST',
          path: `/internal/${RESERVE}`,
          headers: { [IDENTITY_HEADER]: identity },
          body: reserveBody(productId),
        });
        expect(direct.status).toBe(200);
        expect((await productNow(t)).stock).toBe(before - 1);
      }
      const stock = (await productNow(t)).stock;
      const tally = createTally();
      const headerTricks = ['x-original-url', 'x-rewrite-url', 'x-forwarded-prefix', 'x-forwarded-uri'];
      for (const path of PATHS) {
        const res = await t.send({ method: 'POST', path, token, body: reserveBody(productId) });
        tally.check(`POST ${path}`, res, refusedAnswer(res));
      }
      for (const route of OTHER_ROUTES) {
        const res = await t.send({ method: 'POST', path: `/internal/${route}`, token, body: { args: [] } });
        tally.check(`POST /internal/${route}`, res, refusedAnswer(res));
      }
      for (const name of headerTricks) {
        for (const path of ['/products', `/products/${productId}`]) {
          const headers = { [name]: `/internal/${RESERVE}` };
          const res = await t.send({ method: 'POST', path, headers, token, body: reserveBody(productId) });
          tally.check(`${name} on POST ${path}`, res, refusedAnswer(res));
        }
      }
      const body = JSON.stringify(reserveBody(productId));
      for (const gateway of t.gateways) {
        for (const probe of rawProbes(t, token, body)) {
          const raw = await exchangeRaw(gateway, probe.bytes);
          const statuses = statusesOf(raw);
          const refused = !raw.includes('"result"') && statuses.every((s) => s >= 400 && s < 500);
          tally.check(
            probe.what,
            { status: statuses.at(-1) ?? 0, headers: {}, body: raw, text: raw },
            refused,
          );
        }
      }
      await tally.settle(t, async () => {
        expect((await productNow(t)).stock).toBe(stock);
      });
    });
  });
}
