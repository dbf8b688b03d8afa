import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  createProduct,
  decodeJwt,
  expectProblem,
  expectValidationProblem,
  listOf,
  type PageDto,
  type PaymentDto,
  type ProductDto,
  placeOrder,
  register,
  type ShopAccessor,
  type UserDto,
  uniqueName,
  uniqueUsername,
  validPassword,
} from '../support/http-client.ts';

type Claims = Record<string, unknown>;

function encode(part: object): string {
  return Buffer.from(JSON.stringify(part)).toString('base64url');
}

/** A JWT built by hand: unsigned for `alg: none`, else HMAC with a secret the shop does not know. */
function forge(header: Claims, payload: Claims): string {
  const unsigned = `${encode(header)}.${encode(payload)}`;
  if (header.alg === 'none') return `${unsigned}.`;
  const hash = header.alg === 'HS512' ? 'sha512' : 'sha256';
  return `${unsigned}.${createHmac(hash, randomBytes(48)).update(unsigned).digest('base64url')}`;
}

interface Tokens {
  admin: string;
  customer: string;
}

const now = () => Math.floor(Date.now() / 1000);
const HS256 = { alg: 'HS256', typ: 'JWT' };

const forgeries: Array<{ what: string; make: (t: Tokens) => string }> = [
  {
    what: 'alg none claiming admin',
    make: (t) => forge({ alg: 'none', typ: 'JWT' }, decodeJwt(t.admin).payload),
  },
  { what: 'admin claims signed with another secret', make: (t) => forge(HS256, decodeJwt(t.admin).payload) },
  {
    what: 'admin claims as HS512 with another secret',
    make: (t) => forge({ ...HS256, alg: 'HS512' }, decodeJwt(t.admin).payload),
  },
  {
    what: 'an expired token signed with another key',
    make: (t) => forge(HS256, { ...decodeJwt(t.customer).payload, iat: now() - 7200, exp: now() - 3600 }),
  },
  {
    what: 'a token without exp signed with another key',
    make: (t) => {
      const { exp: _exp, ...claims } = decodeJwt(t.customer).payload;
      return forge(HS256, claims);
    },
  },
  {
    what: 'a customer token whose role was changed to admin, signature kept',
    make: (t) => {
      const [header, , signature] = t.customer.split('.');
      return `${header}.${encode({ ...decodeJwt(t.customer).payload, role: 'admin' })}.${signature}`;
    },
  },
  {
    what: 'a customer token with its signature cut off',
    make: (t) => `${t.customer.split('.').slice(0, 2).join('.')}.`,
  },
  {
    what: 'a customer token re-headed as alg none',
    make: (t) => `${encode({ alg: 'none', typ: 'JWT' })}.${t.customer.split('.')[1]}.`,
  },
];

const garbage = [
  'Bearer',
  'Bearer ',
  'Bearer not-a-token',
  'Bearer a.b.c',
  'Basic YWRtaW46c2VjcmV0',
  'Token abc',
];

export function defineSecuritySuite(shop: ShopAccessor): void {
  describe('tokens', () => {
    it.each(forgeries)('refuses $what with 401, on reads and on admin writes', async ({ make }) => {
      const { client, adminToken } = shop();
      const customer = await register(client);
      const product = await createProduct(shop(), { price: 2 });
      const token = make({ admin: adminToken, customer: customer.token });
      expectProblem(await client.request('GET', '/users/me', { token }), 401, 'UNAUTHORIZED');
      const patch = await client.request('PATCH', `/products/${product.id}`, {
        token,
        body: { price: 0.01 },
      });
      expectProblem(patch, 401, 'UNAUTHORIZED');
      const body = { name: uniqueName('Forged'), price: 1, stock: 1 };
      expectProblem(await client.request('POST', '/products', { token, body }), 401, 'UNAUTHORIZED');
      const after = await client.request<ProductDto>('GET', `/products/${product.id}`);
      expect(after.body.price).toBe(2);
    });

    it.each(garbage)('refuses the Authorization header %j with 401', async (authorization) => {
      const res = await shop().client.request('GET', '/users/me', { headers: { authorization } });
      expectProblem(res, 401, 'UNAUTHORIZED');
    });

    it('accepts the genuine token the forgeries were made from', async () => {
      const { client } = shop();
      const { user, token } = await register(client);
      const res = await client.request<UserDto>('GET', '/users/me', { token });
      expect(res.status).toBe(200);
      expect(res.body.id).toBe(user.id);
    });
  });

  describe('authorization', () => {
    it('a customer gets 403 FORBIDDEN on every admin route and changes nothing', async () => {
      const { client, adminToken } = shop();
      const product = await createProduct(shop(), { price: 2, stock: 5 });
      const me = await register(client);
      const other = await register(client);
      const order = await placeOrder(client, me.token, product.id);
      const token = me.token;
      const create = { name: uniqueName('Sneaky'), price: 1, stock: 1 };
      expectProblem(await client.request('POST', '/products', { token, body: create }), 403, 'FORBIDDEN');
      const patch = { token, body: { price: 0.01, stock: 999 } };
      expectProblem(await client.request('PATCH', `/products/${product.id}`, patch), 403, 'FORBIDDEN');
      expectProblem(await client.request('POST', `/orders/${order.id}/ship`, { token }), 403, 'FORBIDDEN');
      const others = await client.request('GET', `/orders?user_id=${other.user.id}`, { token });
      expectProblem(others, 403, 'FORBIDDEN');

      const after = await client.request<ProductDto>('GET', `/products/${product.id}`, { token: adminToken });
      expect(after.body.price).toBe(2);
      const read = await client.request<{ status: string }>('GET', `/orders/${order.id}`, { token });
      expect(read.body.status).toBe('confirmed');
    });

    it('role: admin in a registration is 400 and creates no user at all', async () => {
      const { client } = shop();
      const username = uniqueUsername('mass');
      const body = { username, email: `${username}@example.test`, password: validPassword() };
      expectValidationProblem(
        await client.request('POST', '/auth/register', { body: { ...body, role: 'admin' } }),
      );
      const clean = await client.request<UserDto>('POST', '/auth/register', { body });
      expect(clean.status).toBe(201);
      expect(clean.body.role).toBe('customer');
    });

    it("another user's order, user and payments are 404, never their data", async () => {
      const { client } = shop();
      const product = await createProduct(shop());
      const owner = await register(client);
      const stranger = await register(client);
      const order = await placeOrder(client, owner.token, product.id);
      const token = stranger.token;
      expectProblem(await client.request('GET', `/orders/${order.id}`, { token }), 404, 'ORDER_NOT_FOUND');
      expectProblem(await client.request('GET', `/users/${owner.user.id}`, { token }), 404, 'USER_NOT_FOUND');
      const payments = await client.request('GET', `/payments?order_id=${order.id}`, { token });
      if (payments.status === 404) expectProblem(payments, 404, 'ORDER_NOT_FOUND');
      else expect(listOf<PaymentDto>(payments.body)).toEqual([]);
      const mine = await client.request<PageDto<{ id: string }>>('GET', '/orders', { token });
      expect(mine.body.items.map((o) => o.id)).not.toContain(order.id);
    });
  });
}
