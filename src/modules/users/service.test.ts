import type { Kysely } from 'kysely';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { usersMigrations } from '../../../migrations/users/index.ts';
import type { CallContext } from '../../platform/context.ts';
import { type ModuleDatabase, migrateToLatest, openDatabase } from '../../platform/db/database.ts';
import { hasCode, isAppError } from '../../platform/errors.ts';
import type { EventEnvelope } from '../../platform/events/envelope.ts';
import { createOutbox } from '../../platform/events/outbox.ts';
import type { RegisterInput, User, UsersApi, UsersEvents } from './contract.ts';
import { createPasswordHasher } from './password.ts';
import { createUsersRepository, type UsersDatabase } from './repository.ts';
import { createUsersService } from './service.ts';

const system: CallContext = { requestId: 'test' };
const as = (user: Pick<User, 'id' | 'role'> & { session_version?: number }): CallContext => ({
  requestId: 'test',
  actor: { id: user.id, role: user.role, sessionVersion: user.session_version ?? 0 },
});
const ADMIN = { password: 'the-admin-password', email: 'admin@example.com' };

async function rejection(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (isAppError(error)) return error.code;
    throw error;
  }
  throw new Error('expected a rejection');
}

describe('users service', () => {
  let database: ModuleDatabase<UsersDatabase>;
  let service: UsersApi;
  let logLines: string[];
  let counter = 0;

  const input = (overrides: Partial<RegisterInput> = {}): RegisterInput => {
    counter += 1;
    return {
      username: `user${counter}`,
      email: `user${counter}@example.com`,
      password: `secret-password-${counter}`,
      ...overrides,
    };
  };

  const outboxEvents = async (): Promise<Array<{ type: string; raw: string; event: EventEnvelope }>> => {
    const rows = await database.db.selectFrom('outbox').select(['type', 'envelope']).orderBy('seq').execute();
    return rows.map((r) => ({
      type: r.type,
      raw: r.envelope,
      event: JSON.parse(r.envelope) as EventEnvelope,
    }));
  };

  /** The first admin, signed in: created on first use, so tests that count events see none of it. */
  const admin = async (): Promise<CallContext> => {
    await service.ensureAdmin(system, ADMIN);
    return as(await service.authenticate(system, { login: 'admin', password: ADMIN.password }));
  };

  beforeEach(async () => {
    database = openDatabase<UsersDatabase>({ url: 'sqlite::memory:' });
    await migrateToLatest(database.db as Kysely<unknown>, 'users', usersMigrations);
    logLines = [];
    service = createUsersService({
      repository: createUsersRepository(database.db),
      outbox: createOutbox<UsersDatabase, UsersEvents>(database.db, 'users'),
      passwords: createPasswordHasher({ concurrency: 4 }),
      log: pino({ level: 'trace' }, { write: (line: string) => logLines.push(line) }),
    });
  });
  afterEach(() => database.close());

  describe('register', () => {
    it('creates a customer, lowercases the email, and raises users.user_registered in the outbox', async () => {
      const body = input({ email: 'Ada.Lovelace@Example.COM' });
      const user = await service.register(system, { ...body, role: 'admin' } as RegisterInput);
      expect(user).toEqual({
        id: expect.any(String),
        username: body.username,
        email: 'ada.lovelace@example.com',
        role: 'customer',
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      });
      const events = await outboxEvents();
      expect(events.map((e) => e.type)).toEqual(['users.user_registered']);
      expect(events[0]!.event).toMatchObject({
        source: 'users',
        request_id: 'test',
        data: { user_id: user.id, username: body.username, email: 'ada.lovelace@example.com' },
      });
    });

    it('stores an argon2id hash and never returns, emits or logs the password or the hash', async () => {
      const body = input();
      const user = await service.register(system, body);
      const { password_hash } = await database.db
        .selectFrom('users')
        .select('password_hash')
        .where('id', '=', user.id)
        .executeTakeFirstOrThrow();
      expect(password_hash).toMatch(/^\$argon2id\$/);
      const seen = [
        JSON.stringify(user),
        JSON.stringify(await service.authenticate(system, { login: body.username, password: body.password })),
        JSON.stringify(await service.getUser(as(user), user.id)),
        JSON.stringify(await service.updateUser(as(user), user.id, { password: 'another-password' })),
        ...(await outboxEvents()).map((e) => e.raw),
        ...logLines,
      ].join('\n');
      expect(logLines.length).toBeGreaterThan(0);
      for (const secret of [body.password, 'another-password', password_hash, '$argon2']) {
        expect(seen).not.toContain(secret);
      }
    });

    it.each([
      ['a username with upper case', { username: 'Ada' }],
      ['a username of 2 characters', { username: 'ab' }],
      ['a username of 33 characters', { username: 'a'.repeat(33) }],
      ['an email that is not one', { email: 'not-an-email' }],
      ['an email over 254 characters', { email: `${'a'.repeat(64)}@${'b'.repeat(186)}.com` }],
      ['a password of 7 characters', { password: 'short77' }],
      ['a password of 129 characters', { password: 'p'.repeat(129) }],
    ])('refuses %s with VALIDATION_FAILED', async (_what, change) => {
      expect(await rejection(service.register(system, input(change)))).toBe('VALIDATION_FAILED');
      expect(await outboxEvents()).toEqual([]);
    });

    it('refuses a taken username, and a taken email in any case, with USER_EXISTS', async () => {
      const taken = await service.register(system, input());
      expect(await rejection(service.register(system, input({ username: taken.username })))).toBe(
        'USER_EXISTS',
      );
      const email = taken.email.toUpperCase();
      expect(await rejection(service.register(system, input({ email })))).toBe('USER_EXISTS');
    });

    it('lets exactly one of two racing registrations of a name or an email win', async () => {
      const name = input();
      const byName = await Promise.allSettled([
        service.register(system, name),
        service.register(system, { ...input(), username: name.username }),
      ]);
      const mail = input();
      const byEmail = await Promise.allSettled([
        service.register(system, mail),
        service.register(system, { ...input(), email: mail.email }),
      ]);
      for (const results of [byName, byEmail]) {
        expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
        const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
        expect(hasCode(refused.reason, 'USER_EXISTS')).toBe(true);
      }
      const rows = await database.db.selectFrom('users').select('id').execute();
      expect(rows).toHaveLength(2);
      expect((await outboxEvents()).map((e) => e.type)).toEqual([
        'users.user_registered',
        'users.user_registered',
      ]);
    });
  });

  describe('authenticate', () => {
    it('accepts the username or the email in any case', async () => {
      const body = input();
      const user = await service.register(system, body);
      for (const login of [body.username, body.email, body.email.toUpperCase()]) {
        await expect(service.authenticate(system, { login, password: body.password })).resolves.toEqual({
          ...user,
          session_version: 0,
        });
      }
    });

    it('answers a wrong password and an unknown user alike with INVALID_CREDENTIALS', async () => {
      const body = input();
      await service.register(system, body);
      const attempts = [
        { login: body.username, password: 'wrong-password' },
        { login: 'nobody', password: body.password },
        { login: 'nobody@example.com', password: body.password },
        { login: body.username, password: 'p'.repeat(10_000) },
      ];
      for (const attempt of attempts) {
        expect(await rejection(service.authenticate(system, attempt))).toBe('INVALID_CREDENTIALS');
      }
    });
  });

  describe('getUser', () => {
    it('answers the user to itself and to an admin, and USER_NOT_FOUND to anyone else', async () => {
      const user = await service.register(system, input());
      const other = await service.register(system, input());
      await expect(service.getUser(as(user), user.id)).resolves.toEqual(user);
      await expect(service.getUser(await admin(), user.id)).resolves.toEqual(user);
      expect(await rejection(service.getUser(as(other), user.id))).toBe('USER_NOT_FOUND');
      expect(await rejection(service.getUser(system, user.id))).toBe('USER_NOT_FOUND');
      expect(await rejection(service.getUser(await admin(), 'no-such-id'))).toBe('USER_NOT_FOUND');
    });
  });

  describe('updateUser', () => {
    it('changes the email and password of the caller and raises users.user_updated', async () => {
      const body = input();
      const user = await service.register(system, body);
      const updated = await service.updateUser(as(user), user.id, {
        email: 'New.Address@Example.com',
        password: 'a-new-password',
      });
      expect(updated).toEqual({ ...user, email: 'new.address@example.com' });
      const login = (password: string) => service.authenticate(system, { login: user.username, password });
      await expect(login('a-new-password')).resolves.toEqual({ ...updated, session_version: 1 });
      expect(await rejection(login(body.password))).toBe('INVALID_CREDENTIALS');
      const events = await outboxEvents();
      expect(events.map((e) => e.type)).toEqual([
        'users.user_registered',
        'users.user_updated',
        'users.sessions_ended',
      ]);
      expect(events[1]!.event.data).toEqual({
        user_id: user.id,
        username: user.username,
        email: 'new.address@example.com',
      });
    });

    it('ends the sessions when the password changes, and only then raises an event', async () => {
      const user = await service.register(system, input());
      await service.updateUser(as(user), user.id, { password: 'a-new-password' });
      const events = await outboxEvents();
      expect(events.map((e) => e.type)).toEqual(['users.user_registered', 'users.sessions_ended']);
      expect(events[1]!.event.data).toEqual({ user_id: user.id, session_version: 1 });
      // The token it had is of the old session: refused for every read and change of the account.
      expect(await rejection(service.getUser(as(user), user.id))).toBe('UNAUTHORIZED');
      expect(await rejection(service.updateUser(as(user), user.id, { email: 'x@example.com' }))).toBe(
        'UNAUTHORIZED',
      );
      await expect(service.getUser(as({ ...user, session_version: 1 }), user.id)).resolves.toEqual(user);
      await expect(service.session(system, user.id)).resolves.toEqual({
        role: 'customer',
        session_version: 1,
      });
    });

    it('a demoted admin is a customer at once: it cannot promote itself back or touch the admin', async () => {
      const body = input();
      const user = await service.register(system, body);
      const signIn = async () =>
        as(await service.authenticate(system, { login: user.username, password: body.password }));
      const boss = await admin();
      await service.updateUser(boss, user.id, { role: 'admin' });
      const promoted = await signIn();
      await service.updateUser(boss, user.id, { role: 'customer' });
      // Its token still says admin, and is of the session the demotion ended.
      expect(await rejection(service.updateUser(promoted, user.id, { role: 'admin' }))).toBe('UNAUTHORIZED');
      expect(
        await rejection(service.updateUser(promoted, boss.actor!.id, { password: 'taken-over-1' })),
      ).toBe('UNAUTHORIZED');
      await expect(service.session(system, user.id)).resolves.toEqual({
        role: 'customer',
        session_version: 2,
      });
      // Signed in again, it is a customer.
      const again = await signIn();
      expect(await rejection(service.updateUser(again, user.id, { role: 'admin' }))).toBe('FORBIDDEN');
    });

    it("answers USER_NOT_FOUND for another user's id and changes nothing", async () => {
      const user = await service.register(system, input());
      const other = await service.register(system, input());
      expect(await rejection(service.updateUser(as(user), other.id, { email: 'x@example.com' }))).toBe(
        'USER_NOT_FOUND',
      );
      expect(
        await rejection(service.updateUser(await admin(), 'no-such-id', { email: 'x@example.com' })),
      ).toBe('USER_NOT_FOUND');
      await expect(service.getUser(await admin(), other.id)).resolves.toEqual(other);
    });

    it('refuses a role from a customer with FORBIDDEN and changes nothing, even the other fields', async () => {
      const user = await service.register(system, input());
      const attempt = { role: 'admin', email: 'sneaky@example.com' } as const;
      expect(await rejection(service.updateUser(as(user), user.id, attempt))).toBe('FORBIDDEN');
      await expect(service.getUser(as(user), user.id)).resolves.toEqual(user);
    });

    it('lets an admin change a role', async () => {
      const user = await service.register(system, input());
      await expect(service.updateUser(await admin(), user.id, { role: 'admin' })).resolves.toEqual({
        ...user,
        role: 'admin',
      });
    });

    it('refuses an email another user has with USER_EXISTS, and an empty or invalid change', async () => {
      const user = await service.register(system, input());
      const other = await service.register(system, input());
      const update = (change: object) => service.updateUser(as(user), user.id, change);
      expect(await rejection(update({ email: other.email.toUpperCase() }))).toBe('USER_EXISTS');
      expect(await rejection(update({}))).toBe('VALIDATION_FAILED');
      expect(await rejection(update({ password: 'short' }))).toBe('VALIDATION_FAILED');
      expect(await rejection(update({ email: 'nope' }))).toBe('VALIDATION_FAILED');
      expect(await rejection(service.updateUser(await admin(), user.id, { role: 'root' as 'admin' }))).toBe(
        'VALIDATION_FAILED',
      );
    });
  });

  describe('ensureAdmin', () => {
    const admin = { password: 'the-admin-password', email: 'Admin@Localhost' };

    it('creates the admin once, even when two starts race', async () => {
      const results = await Promise.all([
        service.ensureAdmin(system, admin),
        service.ensureAdmin(system, admin),
      ]);
      expect(results.map((r) => r.created).sort()).toEqual([false, true]);
      await expect(service.ensureAdmin(system, admin)).resolves.toEqual({ created: false });
      const user = await service.authenticate(system, { login: 'admin', password: admin.password });
      expect(user).toMatchObject({ username: 'admin', email: 'admin@localhost', role: 'admin' });
      const events = await outboxEvents();
      expect(events.map((e) => e.type)).toEqual(['users.user_registered']);
      expect(events[0]!.raw).not.toContain(admin.password);
    });

    it('does not touch an existing admin', async () => {
      await service.ensureAdmin(system, admin);
      await expect(service.ensureAdmin(system, { ...admin, password: 'other-password' })).resolves.toEqual({
        created: false,
      });
      await expect(
        service.authenticate(system, { login: 'admin', password: admin.password }),
      ).resolves.toMatchObject({ role: 'admin' });
    });

    it('restores a demoted admin with the given password when no admin is left', async () => {
      await service.ensureAdmin(system, admin);
      const first = await service.authenticate(system, { login: 'admin', password: admin.password });
      await service.updateUser(as(first), first.id, { role: 'customer' });
      await expect(
        service.ensureAdmin(system, { ...admin, password: 'recovered-password' }),
      ).resolves.toEqual({
        created: true,
      });
      const restored = await service.authenticate(system, { login: 'admin', password: 'recovered-password' });
      expect(restored).toMatchObject({ id: first.id, role: 'admin' });
    });

    it('is refused to a signed-in customer', async () => {
      const user = await service.register(system, input());
      expect(await rejection(service.ensureAdmin(as(user), admin))).toBe('FORBIDDEN');
    });
  });
});
