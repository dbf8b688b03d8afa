import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RegisterInput, User, UsersApi } from '../../src/modules/users/index.ts';
import type { CallContext } from '../../src/platform/context.ts';
import { isAppError } from '../../src/platform/errors.ts';

export interface UsersHarness {
  readonly api: UsersApi;
  close(): Promise<void>;
}

const system: CallContext = { requestId: 'contract-system' };
const as = (user: Pick<User, 'id' | 'role'> & { session_version?: number }): CallContext => ({
  requestId: `contract-${user.id}`,
  actor: { id: user.id, role: user.role, sessionVersion: user.session_version ?? 0 },
});
const SECRET_FIELD = /pass|hash|salt|secret/i;
const ADMIN = { password: 'contract-admin-password', email: 'admin@example.com' };

/** The code of the AppError the call raised. */
async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (isAppError(error)) return error.code;
    throw error;
  }
  throw new Error('expected a rejection');
}

let counter = 0;
function registration(overrides: Partial<RegisterInput> = {}): RegisterInput {
  counter += 1;
  const username = `c${counter}_${process.pid}`;
  return { username, email: `${username}@example.com`, password: `password-${counter}-x`, ...overrides };
}

/** A user as readers see it; what `authenticate` answers has its session version besides. */
function expectPublicUser(user: User, extra: string[] = []): void {
  expect(Object.keys(user).sort()).toEqual(
    ['created_at', 'email', 'id', 'role', 'username', ...extra].sort(),
  );
  expect(Object.keys(user).filter((k) => SECRET_FIELD.test(k))).toEqual([]);
  expect(new Date(user.created_at).toISOString()).toBe(user.created_at);
}

export function defineUsersContract(adapterName: string, setup: () => Promise<UsersHarness>): void {
  describe(`users contract (${adapterName})`, () => {
    let harness: UsersHarness;
    let api: UsersApi;
    beforeEach(async () => {
      harness = await setup();
      api = harness.api;
    });
    afterEach(() => harness.close());

    async function signUp(overrides: Partial<RegisterInput> = {}) {
      const input = registration(overrides);
      const user = await api.register(system, input);
      return { user, input, ctx: as(user) };
    }

    async function adminCtx(): Promise<CallContext> {
      await api.ensureAdmin(system, ADMIN);
      return as(await api.authenticate(system, { login: 'admin', password: ADMIN.password }));
    }

    describe('register', () => {
      it('creates a customer with a lowercased email and no password in the answer', async () => {
        const input = registration({ email: 'Mixed.Case@Example.com' });
        const user = await api.register(system, input);
        expectPublicUser(user);
        expect(user).toMatchObject({
          username: input.username,
          email: 'mixed.case@example.com',
          role: 'customer',
        });
        expect(JSON.stringify(user)).not.toContain(input.password);
      });

      it('raises USER_EXISTS for a taken username and for a taken email in any case', async () => {
        const { user } = await signUp();
        expect(await codeOf(api.register(system, registration({ username: user.username })))).toBe(
          'USER_EXISTS',
        );
        expect(await codeOf(api.register(system, registration({ email: user.email.toUpperCase() })))).toBe(
          'USER_EXISTS',
        );
      });

      it('raises VALIDATION_FAILED for a bad username, email or password', async () => {
        for (const change of [
          { username: 'No Spaces' },
          { username: 'ab' },
          { email: 'not-an-email' },
          { password: 'short' },
          { password: 'p'.repeat(129) },
        ]) {
          expect(await codeOf(api.register(system, registration(change)))).toBe('VALIDATION_FAILED');
        }
      });
    });

    describe('authenticate', () => {
      it('accepts the username or the email and answers the user', async () => {
        const { user, input } = await signUp();
        for (const login of [input.username, input.email, input.email.toUpperCase()]) {
          const found = await api.authenticate(system, { login, password: input.password });
          expect(found).toEqual({ ...user, session_version: 0 });
          expectPublicUser(found, ['session_version']);
        }
      });

      it('raises INVALID_CREDENTIALS for a wrong password and for an unknown user', async () => {
        const { input } = await signUp();
        const wrong = { login: input.username, password: 'not-the-password' };
        const unknown = { login: `ghost${counter}`, password: input.password };
        expect(await codeOf(api.authenticate(system, wrong))).toBe('INVALID_CREDENTIALS');
        expect(await codeOf(api.authenticate(system, unknown))).toBe('INVALID_CREDENTIALS');
      });
    });

    describe('getUser', () => {
      it('answers the user to itself and to an admin', async () => {
        const { user, ctx } = await signUp();
        await expect(api.getUser(ctx, user.id)).resolves.toEqual(user);
        await expect(api.getUser(await adminCtx(), user.id)).resolves.toEqual(user);
      });

      it('raises USER_NOT_FOUND to another customer, to no actor, and for an unknown id', async () => {
        const { user } = await signUp();
        const other = await signUp();
        expect(await codeOf(api.getUser(other.ctx, user.id))).toBe('USER_NOT_FOUND');
        expect(await codeOf(api.getUser(system, user.id))).toBe('USER_NOT_FOUND');
        expect(await codeOf(api.getUser(await adminCtx(), 'no-such-user'))).toBe('USER_NOT_FOUND');
      });
    });

    describe('updateUser', () => {
      it('changes the email and the password of the caller', async () => {
        const { user, input, ctx } = await signUp();
        const updated = await api.updateUser(ctx, user.id, {
          email: 'Moved@Example.com',
          password: 'new-password-1',
        });
        expect(updated).toEqual({ ...user, email: 'moved@example.com' });
        await expect(
          api.authenticate(system, { login: 'moved@example.com', password: 'new-password-1' }),
        ).resolves.toEqual({ ...updated, session_version: 1 });
        expect(
          await codeOf(api.authenticate(system, { login: user.username, password: input.password })),
        ).toBe('INVALID_CREDENTIALS');
      });

      it("raises USER_NOT_FOUND for another customer's id and changes nothing", async () => {
        const { user } = await signUp();
        const other = await signUp();
        expect(await codeOf(api.updateUser(other.ctx, user.id, { email: 'taken.over@example.com' }))).toBe(
          'USER_NOT_FOUND',
        );
        await expect(api.getUser(await adminCtx(), user.id)).resolves.toEqual(user);
      });

      it('raises FORBIDDEN when a customer sends a role, and changes nothing', async () => {
        const { user, ctx } = await signUp();
        expect(await codeOf(api.updateUser(ctx, user.id, { role: 'admin', email: 'also@example.com' }))).toBe(
          'FORBIDDEN',
        );
        await expect(api.getUser(ctx, user.id)).resolves.toEqual(user);
      });

      it('lets an admin change a role', async () => {
        const { user, input } = await signUp();
        await expect(api.updateUser(await adminCtx(), user.id, { role: 'admin' })).resolves.toEqual({
          ...user,
          role: 'admin',
        });
        await expect(
          api.authenticate(system, { login: user.username, password: input.password }),
        ).resolves.toMatchObject({
          role: 'admin',
        });
      });

      it("ends the user's sessions with a password or role change, not with an email change", async () => {
        const { user, ctx } = await signUp();
        await api.updateUser(ctx, user.id, { email: 'still.signed.in@example.com' });
        await expect(api.session(ctx, user.id)).resolves.toEqual({ role: 'customer', session_version: 0 });
        await api.updateUser(ctx, user.id, { password: 'new-password-2' });
        // Every token of the session before is refused, for a read and for a change alike.
        expect(await codeOf(api.getUser(ctx, user.id))).toBe('UNAUTHORIZED');
        expect(await codeOf(api.updateUser(ctx, user.id, { password: 'new-password-3' }))).toBe(
          'UNAUTHORIZED',
        );
        await expect(api.session(system, user.id)).resolves.toEqual({ role: 'customer', session_version: 1 });
        const admin = await adminCtx();
        await api.updateUser(admin, user.id, { role: 'admin' });
        await api.updateUser(admin, user.id, { role: 'admin' });
        await expect(api.session(system, user.id)).resolves.toEqual({ role: 'admin', session_version: 2 });
      });

      it('judges an admin by the role it has now, not by what its token says', async () => {
        const { user, input } = await signUp();
        const admin = await adminCtx();
        await api.updateUser(admin, user.id, { role: 'admin' });
        const promoted = as(
          await api.authenticate(system, { login: user.username, password: input.password }),
        );
        await api.updateUser(admin, user.id, { role: 'customer' });
        expect(await codeOf(api.updateUser(promoted, user.id, { role: 'admin' }))).toBe('UNAUTHORIZED');
        expect(await codeOf(api.updateUser(promoted, admin.actor!.id, { password: 'taken-over-1' }))).toBe(
          'UNAUTHORIZED',
        );
        const again = as(await api.authenticate(system, { login: user.username, password: input.password }));
        expect(await codeOf(api.updateUser(again, user.id, { role: 'admin' }))).toBe('FORBIDDEN');
      });

      it('answers a session to the system and to the user itself only', async () => {
        const { user, ctx } = await signUp();
        const other = await signUp();
        expect(await codeOf(api.session(other.ctx, user.id))).toBe('USER_NOT_FOUND');
        expect(await codeOf(api.session(system, 'no-such-user'))).toBe('USER_NOT_FOUND');
        await expect(api.session(ctx, user.id)).resolves.toEqual({ role: 'customer', session_version: 0 });
      });

      it('raises USER_EXISTS for an email another user has', async () => {
        const { user, ctx } = await signUp();
        const other = await signUp();
        expect(await codeOf(api.updateUser(ctx, user.id, { email: other.user.email }))).toBe('USER_EXISTS');
      });

      it('raises VALIDATION_FAILED for an empty or invalid change', async () => {
        const { user, ctx } = await signUp();
        expect(await codeOf(api.updateUser(ctx, user.id, {}))).toBe('VALIDATION_FAILED');
        expect(await codeOf(api.updateUser(ctx, user.id, { password: 'short' }))).toBe('VALIDATION_FAILED');
      });
    });

    describe('ensureAdmin', () => {
      it('creates the admin once', async () => {
        await expect(api.ensureAdmin(system, ADMIN)).resolves.toEqual({ created: true });
        await expect(api.ensureAdmin(system, { ...ADMIN, password: 'another-password' })).resolves.toEqual({
          created: false,
        });
        const admin = await api.authenticate(system, { login: 'admin', password: ADMIN.password });
        expectPublicUser(admin, ['session_version']);
        expect(admin).toMatchObject({ username: 'admin', email: ADMIN.email, role: 'admin' });
      });

      it('raises FORBIDDEN to a signed-in customer', async () => {
        const { ctx } = await signUp();
        expect(await codeOf(api.ensureAdmin(ctx, ADMIN))).toBe('FORBIDDEN');
      });
    });
  });
}
