import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLoginThrottle } from '../../platform/auth/login-throttle.ts';
import { migrateToLatest, openDatabase } from '../../platform/db/database.ts';
import { createMemoryBus } from '../../platform/events/memory-bus.ts';
import { createEdge } from '../../platform/http/server.ts';
import type { ModuleInstance } from '../../platform/module.ts';
import type { UsersApi } from './contract.ts';
import { createUsersModule } from './module.ts';
import type { UsersDatabase } from './repository.ts';

const WINDOW_SECONDS = 900;

describe('users routes', () => {
  let app: FastifyInstance;
  let module: ModuleInstance<UsersApi>;
  let closeDatabase: () => Promise<void>;

  beforeEach(async () => {
    const log = pino({ level: 'silent' });
    const database = openDatabase<UsersDatabase>({ url: 'sqlite::memory:' });
    closeDatabase = () => database.close();
    module = createUsersModule({
      database,
      bus: createMemoryBus(),
      log,
      passwordHashConcurrency: 2,
      loginThrottle: createLoginThrottle({
        maxFailures: 2,
        windowSeconds: WINDOW_SECONDS,
        addressFailures: 2,
      }),
    });
    await migrateToLatest(database.db as Kysely<unknown>, module.name, module.migrations);
    app = await createEdge({
      log,
      bodyLimitBytes: 65_536,
      requestTimeoutMs: 5_000,
      auth: {
        secret: 'x'.repeat(40),
        ttlSeconds: 900,
        issuer: 'test',
        audience: 'test',
        clockSkewSeconds: 0,
      },
      rateLimit: { max: 1_000, windowSeconds: 60 },
    });
    await app.register(module.routes);
    await app.ready();
  });
  afterEach(async () => {
    await app.close();
    await closeDatabase();
  });

  const register = (username: string, password = 'a-good-password') =>
    app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { username, email: `${username}@example.com`, password },
    });
  const login = (body: object, remoteAddress = '10.0.0.1') =>
    app.inject({ method: 'POST', url: '/auth/login', payload: body, remoteAddress });

  it('refuses logins after too many failures, before checking the password, with 429 and Retry-After', async () => {
    await register('ada');
    await register('grace');
    for (let i = 0; i < 2; i += 1) {
      const wrong = await login({ username: 'ada', password: 'wrong-password' });
      expect(wrong.statusCode).toBe(401);
      expect(wrong.json().code).toBe('INVALID_CREDENTIALS');
    }
    const right = await login({ username: 'ada', password: 'a-good-password' }, '10.0.0.2');
    expect(right.statusCode).toBe(429);
    expect(right.headers['content-type']).toContain('application/problem+json');
    expect(right.json()).toMatchObject({ code: 'RATE_LIMITED', retry_after: WINDOW_SECONDS });
    expect(right.headers['retry-after']).toBe(String(WINDOW_SECONDS));
    // The failing address is held back too; another user from elsewhere is not.
    expect((await login({ username: 'grace', password: 'a-good-password' })).statusCode).toBe(429);
    expect((await login({ username: 'grace', password: 'a-good-password' }, '10.0.0.3')).statusCode).toBe(
      200,
    );
  });

  it("counts an account's failures whether they named it by username or by email", async () => {
    await register('ada');
    expect((await login({ username: 'ada', password: 'wrong-password' })).statusCode).toBe(401);
    expect((await login({ email: 'ADA@example.com', password: 'wrong-password' })).statusCode).toBe(401);
    const third = await login({ email: 'ada@example.com', password: 'a-good-password' }, '10.0.0.2');
    expect(third.statusCode).toBe(429);
    // A name no account has is counted apart from every account.
    expect((await login({ username: 'nobody', password: 'wrong-password' }, '10.0.0.3')).statusCode).toBe(
      401,
    );
    expect((await login({ username: 'ada', password: 'a-good-password' }, '10.0.0.4')).statusCode).toBe(429);
  });

  it('does not count successful logins', async () => {
    await register('ada');
    for (let i = 0; i < 5; i += 1) {
      expect((await login({ username: 'ada', password: 'a-good-password' })).statusCode).toBe(200);
    }
    expect((await login({ username: 'ada', password: 'wrong-password' })).statusCode).toBe(401);
    expect((await login({ email: 'ADA@example.com', password: 'a-good-password' })).statusCode).toBe(200);
  });

  it('answers a login with a bearer token that signs the user in', async () => {
    const created = (await register('ada')).json();
    const res = await login({ email: 'ada@example.com', password: 'a-good-password' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 900 });
    const me = await app.inject({
      url: '/users/me',
      headers: { authorization: `Bearer ${res.json().access_token}` },
    });
    expect(me.json()).toEqual(created);
  });

  it.each([
    [
      'both a username and an email',
      { username: 'ada', email: 'ada@example.com', password: 'a-good-password' },
    ],
    ['neither', { password: 'a-good-password' }],
    ['an unknown field', { username: 'ada', password: 'a-good-password', remember: true }],
  ])('refuses a login body with %s with 400', async (_what, body) => {
    await register('ada');
    const res = await login(body);
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('VALIDATION_FAILED');
  });

  it('registers on both paths, refuses role in the body, and refuses a role change by a customer', async () => {
    const first = await register('ada');
    expect(first.statusCode).toBe(201);
    expect(Object.keys(first.json()).sort()).toEqual(['created_at', 'email', 'id', 'role', 'username']);
    const viaUsers = await app.inject({
      method: 'POST',
      url: '/users',
      payload: { username: 'grace', email: 'grace@example.com', password: 'a-good-password' },
    });
    expect(viaUsers.statusCode).toBe(201);
    const withRole = await app.inject({
      method: 'POST',
      url: '/users',
      payload: { username: 'eve', email: 'eve@example.com', password: 'a-good-password', role: 'admin' },
    });
    expect(withRole.statusCode).toBe(400);
    const token = (await login({ username: 'ada', password: 'a-good-password' })).json().access_token;
    const patch = await app.inject({
      method: 'PATCH',
      url: `/users/${first.json().id}`,
      headers: { authorization: `Bearer ${token}` },
      payload: { role: 'admin' },
    });
    expect(patch.statusCode).toBe(403);
    expect(patch.json().code).toBe('FORBIDDEN');
    const other = await app.inject({
      url: `/users/${viaUsers.json().id}`,
      headers: { authorization: `Bearer ${token}` },
    });
    expect(other.statusCode).toBe(404);
    expect(other.json().code).toBe('USER_NOT_FOUND');
  });
});
