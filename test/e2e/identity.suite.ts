import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  decodeJwt,
  expectProblem,
  expectValidationProblem,
  login,
  type ProblemDto,
  type ProductDto,
  register,
  type ShopAccessor,
  type TokenDto,
  type UserDto,
  uniqueName,
  uniqueUsername,
  validPassword,
} from '../support/http-client.ts';

const SECRET_FIELD = /pass|hash|salt|secret/i;

function validBody(): Record<string, unknown> {
  const username = uniqueUsername();
  return { username, email: `${username}@example.test`, password: validPassword() };
}

const invalidRegistrations: Array<{ what: string; change: Record<string, unknown> }> = [
  { what: 'a username with upper case, spaces and symbols', change: { username: 'Bad Name!' } },
  { what: 'a username of 2 characters', change: { username: 'ab' } },
  { what: 'a username of 33 characters', change: { username: 'a'.repeat(33) } },
  { what: 'a password of 7 characters', change: { password: 'short77' } },
  { what: 'a password of 129 characters', change: { password: 'p'.repeat(129) } },
  { what: 'an email that is not one', change: { email: 'not-an-email' } },
  { what: 'no email', change: { email: undefined } },
  { what: 'the unknown field role', change: { role: 'admin' } },
];

export function defineIdentitySuite(shop: ShopAccessor): void {
  describe('registration', () => {
    it.each(invalidRegistrations)('rejects $what with 400 VALIDATION_FAILED', async ({ change }) => {
      const res = await shop().client.request('POST', '/auth/register', {
        body: { ...validBody(), ...change },
      });
      expectValidationProblem(res);
    });

    it('answers 201 with the user and never its password', async () => {
      const body = validBody();
      const res = await shop().client.request<UserDto>('POST', '/auth/register', { body });
      expect(res.status).toBe(201);
      expect(res.body).toEqual({
        id: expect.any(String),
        username: body.username,
        email: body.email,
        role: 'customer',
        created_at: expect.any(String),
      });
      expect(res.text).not.toContain(body.password as string);
    });

    it('refuses a taken username and a taken email with 409 USER_EXISTS', async () => {
      const { client } = shop();
      const taken = await register(client);
      const sameName = { ...validBody(), username: taken.user.username };
      expectProblem(await client.request('POST', '/auth/register', { body: sameName }), 409, 'USER_EXISTS');
      const sameEmail = { ...validBody(), email: taken.user.email };
      expectProblem(await client.request('POST', '/auth/register', { body: sameEmail }), 409, 'USER_EXISTS');
    });

    it('serves POST /users the same as POST /auth/register', async () => {
      const { client } = shop();
      const body = validBody();
      const res = await client.request<UserDto>('POST', '/users', { body });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ username: body.username, email: body.email, role: 'customer' });
      expect(Object.keys(res.body).filter((k) => SECRET_FIELD.test(k))).toEqual([]);
      expectProblem(await client.request('POST', '/users', { body }), 409, 'USER_EXISTS');
      expectValidationProblem(
        await client.request('POST', '/users', { body: { ...validBody(), role: 'admin' } }),
      );
      await expect(
        login(client, { username: body.username as string, password: body.password as string }),
      ).resolves.toEqual(expect.any(String));
    });
  });

  describe('login', () => {
    it('accepts the username or the email and answers a Bearer JWT with sub, role, iat, exp', async () => {
      const { client } = shop();
      const { user, password } = await register(client);
      for (const credentials of [
        { username: user.username, password },
        { email: user.email, password },
      ]) {
        const res = await client.request<TokenDto>('POST', '/auth/login', { body: credentials });
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ access_token: expect.any(String), token_type: 'Bearer' });
        expect(Number.isInteger(res.body.expires_in) && res.body.expires_in > 0).toBe(true);
        const { header, payload } = decodeJwt(res.body.access_token);
        expect(header.alg).not.toBe('none');
        expect(payload).toMatchObject({ sub: user.id, role: 'customer', iat: expect.any(Number) });
        expect(payload.exp).toBeGreaterThan(payload.iat as number);
      }
    });

    it('answers an unknown user and a wrong password with the same 401 INVALID_CREDENTIALS', async () => {
      const { client } = shop();
      const { user } = await register(client);
      const unknown = await client.request('POST', '/auth/login', {
        body: { username: uniqueUsername('ghost'), password: validPassword() },
      });
      const wrong = await client.request('POST', '/auth/login', {
        body: { username: user.username, password: validPassword() },
      });
      const strip = (p: ProblemDto) => ({ ...p, request_id: undefined });
      expect(strip(expectProblem(unknown, 401, 'INVALID_CREDENTIALS'))).toEqual(
        strip(expectProblem(wrong, 401, 'INVALID_CREDENTIALS')),
      );
    });
  });

  describe('users', () => {
    it('GET /users/me answers the caller', async () => {
      const { client } = shop();
      const { user, token } = await register(client);
      const res = await client.request<UserDto>('GET', '/users/me', { token });
      expect(res.status).toBe(200);
      expect(res.body).toEqual(user);
    });

    it('GET /users/{id} answers the user to itself and to an admin, without any password field', async () => {
      const { client, adminToken } = shop();
      const { user, token, password } = await register(client);
      for (const reader of [token, adminToken]) {
        const res = await client.request<UserDto>('GET', `/users/${user.id}`, { token: reader });
        expect(res.status).toBe(200);
        expect(res.body).toEqual(user);
        expect(Object.keys(res.body).filter((k) => SECRET_FIELD.test(k))).toEqual([]);
        expect(res.text).not.toContain(password);
      }
    });

    it("GET /users/{id} answers 404 USER_NOT_FOUND for another user's id and an unknown one", async () => {
      const { client, adminToken } = shop();
      const me = await register(client);
      const other = await register(client);
      expectProblem(
        await client.request('GET', `/users/${other.user.id}`, { token: me.token }),
        404,
        'USER_NOT_FOUND',
      );
      const unknown = await client.request('GET', `/users/${randomUUID()}`, { token: adminToken });
      expectProblem(unknown, 404, 'USER_NOT_FOUND');
    });

    it('PATCH /users/{id} changes the email and the password of the caller, and ends its sessions', async () => {
      const { client } = shop();
      const { user, token } = await register(client);
      const email = `${uniqueUsername('new')}@example.test`;
      const password = validPassword();
      const res = await client.request<UserDto>('PATCH', `/users/${user.id}`, {
        token,
        body: { email, password },
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id: user.id, username: user.username, email, role: 'customer' });
      expect(res.text).not.toContain(password);
      // A new password ends the sessions: the token from before is refused, a new login works.
      expectProblem(await client.request('GET', '/users/me', { token }), 401, 'UNAUTHORIZED');
      const fresh = await login(client, { email, password });
      const me = await client.request<UserDto>('GET', '/users/me', { token: fresh });
      expect(me.body.email).toBe(email);
    });

    it("PATCH /users/{id} on another user's id answers 404 and changes nothing", async () => {
      const { client, adminToken } = shop();
      const me = await register(client);
      const other = await register(client);
      const res = await client.request('PATCH', `/users/${other.user.id}`, {
        token: me.token,
        body: { email: `${uniqueUsername('x')}@example.test` },
      });
      expectProblem(res, 404, 'USER_NOT_FOUND');
      const after = await client.request<UserDto>('GET', `/users/${other.user.id}`, { token: adminToken });
      expect(after.body.email).toBe(other.user.email);
    });

    it('PATCH /users/{id} rejects the read-only field username with 400', async () => {
      const { client } = shop();
      const { user, token } = await register(client);
      const res = await client.request('PATCH', `/users/${user.id}`, {
        token,
        body: { username: uniqueUsername() },
      });
      expectValidationProblem(res);
    });

    it('a customer sending role is refused and stays a customer', async () => {
      const { client } = shop();
      const { user, token, password } = await register(client);
      const res = await client.request('PATCH', `/users/${user.id}`, { token, body: { role: 'admin' } });
      expect([400, 403]).toContain(res.status);
      expectProblem(res, res.status, res.status === 403 ? 'FORBIDDEN' : 'VALIDATION_FAILED');
      const me = await client.request<UserDto>('GET', '/users/me', { token });
      expect(me.body.role).toBe('customer');
      const fresh = await login(client, { username: user.username, password });
      expect(decodeJwt(fresh).payload.role).toBe('customer');
    });

    it('an admin can change a role, and the new admin can then act as one', async () => {
      const { client, adminToken } = shop();
      const { user, password } = await register(client);
      const res = await client.request<UserDto>('PATCH', `/users/${user.id}`, {
        token: adminToken,
        body: { role: 'admin' },
      });
      expect(res.status).toBe(200);
      expect(res.body.role).toBe('admin');
      const token = await login(client, { username: user.username, password });
      const created = await client.request<ProductDto>('POST', '/products', {
        token,
        body: { name: uniqueName('Promoted'), price: 1, stock: 1 },
      });
      expect(created.status).toBe(201);
    });
  });
}
