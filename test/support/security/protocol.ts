import { describe, expect, it } from 'vitest';
import { HEADER_LIMIT_BYTES } from '../../../src/platform/http/server.ts';
import { exchangeRaw, send } from './raw-http.ts';
import { createTally, isProblem, type Target } from './world.ts';

const HEADER_LIMIT = HEADER_LIMIT_BYTES.public;

/** Flips the unused low bits of a base64url part's last character: the same bytes, another spelling. */
function respell(part: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const last = alphabet.indexOf(part.at(-1)!);
  // A 43-character signature carries 2 unused bits in its last character.
  return part.slice(0, -1) + alphabet[last ^ 1];
}

/**
 * Details of HTTP an attacker plays with: Host, the auth scheme, echoed queries, one spelling per token,
 * header sizes and empty headers.
 */
export function defineProtocolCases(target: () => Target): void {
  describe('protocol details', () => {
    it('two Host headers are a 400, by every gateway', async () => {
      const t = target();
      const tally = createTally();
      for (const gateway of t.gateways) {
        for (const path of ['/products?limit=1', '/health/live']) {
          const { host } = new URL(gateway);
          const answer = await exchangeRaw(
            gateway,
            `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nHost: evil.example\r\nConnection: close\r\n\r\n`,
          );
          tally.check(
            `two Host headers: GET ${path}`,
            { status: 0, headers: {}, body: answer, text: answer },
            /^HTTP\/1\.1 400 /.test(answer),
          );
        }
      }
      await tally.settle(t);
    });

    it('takes the bearer scheme in any case, and a token in one spelling only', async () => {
      const t = target();
      const { customers } = t.world;
      const token = customers[0]!.token;
      const tally = createTally();
      for (const gateway of t.gateways) {
        for (const scheme of ['bearer', 'BEARER', 'BeArEr']) {
          const res = await send(gateway, {
            path: '/users/me',
            headers: { authorization: `${scheme} ${token}` },
          });
          expect(res.status, scheme).toBe(200);
        }
        const [header, payload, signature] = token.split('.');
        const respelled = `${header}.${payload}.${respell(signature!)}`;
        // Decoded, the respelled signature is the same bytes: a verifier that decodes only would take it.
        expect(Buffer.from(respell(signature!), 'base64url')).toEqual(Buffer.from(signature!, 'base64url'));
        const res = await send(gateway, { path: '/users/me', token: respelled });
        tally.check('the same token with its signature respelled', res, isProblem(res, 401, 'UNAUTHORIZED'));
      }
      await tally.settle(t);
    });

    it('a 404 does not echo the query string', async () => {
      const t = target();
      const tally = createTally();
      for (const gateway of t.gateways) {
        for (const path of ['/no/such/route?session=s3cr3t-value', '/v1/nothing-here?token=s3cr3t-value']) {
          const res = await send(gateway, { path });
          tally.check(
            `GET ${path}`,
            res,
            isProblem(res, 404, 'NOT_FOUND') && !res.text.includes('s3cr3t-value'),
          );
        }
      }
      await tally.settle(t);
    });

    it('one header-size limit in every topology: just under it is served, just over it is a 431', async () => {
      const t = target();
      const token = t.world.customers[0]!.token;
      const tally = createTally();
      const padded = (bytes: number) => ({ 'x-padding': 'p'.repeat(bytes) });
      for (const gateway of t.gateways) {
        for (const path of ['/products?limit=1', '/orders']) {
          // Everything but the padding, as node:http writes it, and a little room for what it adds.
          const rest = `GET ${path} HTTP/1.1\r\nHost: ${new URL(gateway).host}\r\nAuthorization: Bearer ${token}\r\nConnection: keep-alive\r\nx-padding: \r\n\r\n`;
          const under = HEADER_LIMIT - Buffer.byteLength(rest) - 64;
          const fits = await send(gateway, { path, token, headers: padded(under) });
          tally.check(`GET ${path} with headers 64 bytes under the limit`, fits, fits.status === 200);
          const over = await send(gateway, { path, token, headers: padded(HEADER_LIMIT + 1) });
          tally.check(
            `GET ${path} with headers over the limit`,
            over,
            isProblem(over, 431, 'HEADERS_TOO_LARGE'),
          );
        }
      }
      await tally.settle(t);
    });

    it('an empty Idempotency-Key is a 400 that places nothing', async () => {
      const t = target();
      const { token } = t.world.customers[1]!;
      const before = await t.send({ path: '/orders?limit=100', token });
      const tally = createTally();
      const body = { items: [{ product_id: t.world.product.id, quantity: 1 }] };
      for (const gateway of t.gateways) {
        for (const key of ['', ' ']) {
          const res = await send(gateway, {
            method: 'POST',
            path: '/orders',
            token,
            body,
            headers: { 'idempotency-key': key },
          });
          tally.check(
            `POST /orders with Idempotency-Key ${JSON.stringify(key)}`,
            res,
            isProblem(res, 400, 'VALIDATION_FAILED'),
          );
        }
      }
      const after = await t.send({ path: '/orders?limit=100', token });
      expect(after.body).toEqual(before.body);
      await tally.settle(t);
    });
  });
}
