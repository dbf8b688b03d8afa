import type { Kysely } from 'kysely';
import { sessionEnded } from '../../platform/auth/sessions.ts';
import { type Clock, isoNow, systemClock } from '../../platform/clock.ts';
import type { CallContext, Role } from '../../platform/context.ts';
import { isUniqueViolation } from '../../platform/db/errors.ts';
import { lockKey } from '../../platform/db/locks.ts';
import { platformErrors } from '../../platform/errors.ts';
import type { Outbox } from '../../platform/events/outbox.ts';
import { newId } from '../../platform/ids.ts';
import type { Logger } from '../../platform/log.ts';
import {
  type AuthenticateInput,
  type RegisterInput,
  type UpdateUserInput,
  type User,
  type UsersApi,
  type UsersEvents,
  usersErrors,
} from './contract.ts';
import type { PasswordHasher } from './password.ts';
import type { NewUser, UserRow, UsersDatabase, UsersRepository } from './repository.ts';

/** The rules a registration and an update must meet; the routes' schemas say the same. */
export const USERNAME_PATTERN = '^[a-z0-9_.-]{3,32}$';
export const EMAIL_MAX_LENGTH = 254;
export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;
export const ADMIN_USERNAME = 'admin';

const USERNAME = new RegExp(USERNAME_PATTERN);
// ajv-formats' `email` (full mode), which the routes' `format: 'email'` applies.
const EMAIL =
  /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/i;
// The operator's address may be on a host without a dot, as the default `admin@localhost` is.
const OPERATOR_EMAIL = /^[^@\s]+@[^@\s]+$/;
const ROLES: ReadonlySet<unknown> = new Set<Role>(['customer', 'admin']);

export interface UsersServiceDeps {
  readonly repository: UsersRepository;
  readonly outbox: Outbox<UsersDatabase, UsersEvents>;
  readonly passwords: PasswordHasher;
  readonly log: Logger;
  readonly clock?: Clock;
}

type FieldError = { path: string; message: string };

/** Counts characters as JSON Schema's `maxLength` does: by code point. */
function characters(value: string): number {
  let n = 0;
  for (const _ of value) n += 1;
  return n;
}

function checkEmail(value: unknown, errors: FieldError[], pattern = EMAIL): string {
  if (typeof value !== 'string' || value.length > EMAIL_MAX_LENGTH || !pattern.test(value)) {
    errors.push({
      path: '/email',
      message: `must be an email address of at most ${EMAIL_MAX_LENGTH} characters`,
    });
    return '';
  }
  return value.toLowerCase();
}

function checkPassword(value: unknown, errors: FieldError[]): string {
  const length = typeof value === 'string' ? characters(value) : -1;
  if (length < PASSWORD_MIN_LENGTH || length > PASSWORD_MAX_LENGTH) {
    errors.push({
      path: '/password',
      message: `must be ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters`,
    });
    return '';
  }
  return value as string;
}

function raiseIfAny(errors: FieldError[]): void {
  if (errors.length === 0) return;
  throw platformErrors.VALIDATION_FAILED(errors.map((e) => `${e.path} ${e.message}`).join('; '), { errors });
}

function validateRegistration(input: RegisterInput): { username: string; email: string; password: string } {
  const errors: FieldError[] = [];
  const { username } = input;
  if (typeof username !== 'string' || !USERNAME.test(username)) {
    errors.push({ path: '/username', message: 'must be 3 to 32 of a-z, 0-9, _ . -' });
  }
  const email = checkEmail(input.email, errors);
  const password = checkPassword(input.password, errors);
  raiseIfAny(errors);
  return { username, email, password };
}

function validateUpdate(input: UpdateUserInput): UpdateUserInput {
  const errors: FieldError[] = [];
  const { email, password, role } = input;
  if (email === undefined && password === undefined && role === undefined) {
    errors.push({ path: '', message: 'must change at least one of email, password, role' });
  }
  const changes: { email?: string; password?: string; role?: Role } = {};
  if (email !== undefined) changes.email = checkEmail(email, errors);
  if (password !== undefined) changes.password = checkPassword(password, errors);
  if (role !== undefined) {
    if (ROLES.has(role)) changes.role = role;
    else errors.push({ path: '/role', message: 'must be customer or admin' });
  }
  raiseIfAny(errors);
  return changes;
}

/** The only way a row leaves this module: without its hash. */
function toUser(row: Pick<UserRow, 'id' | 'username' | 'email' | 'role' | 'created_at'>): User {
  return { id: row.id, username: row.username, email: row.email, role: row.role, created_at: row.created_at };
}

/** Only the user itself and admins may see or change a user; to anyone else it does not exist. */
function mayAccess(actor: UserRow | undefined, id: string): actor is UserRow {
  return actor !== undefined && (actor.id === id || actor.role === 'admin');
}

/**
 * The account a login names, by username or by email (either case), if there is one: what failed logins
 * are counted against, so the username and the email of one account share one budget.
 */
export function accountNamedBy(
  repository: Pick<UsersRepository, 'findByEmail' | 'findByUsername'>,
  login: string,
): Promise<UserRow | undefined> {
  const name = login.toLowerCase();
  return name.includes('@') ? repository.findByEmail(name) : repository.findByUsername(name);
}

export function createUsersService(deps: UsersServiceDeps): UsersApi {
  const { repository, outbox, passwords, log } = deps;
  const clock = deps.clock ?? systemClock;

  /**
   * The actor as the table knows it now, for every decision on an account: a token of an ended session
   * (its role or password changed since) is refused here whatever any cache said, and an admin is one
   * who is an admin now. Undefined for the system, which acts with no actor.
   */
  async function currentActor(ctx: CallContext, db?: Kysely<UsersDatabase>): Promise<UserRow | undefined> {
    if (ctx.actor === undefined) return undefined;
    const row = await repository.findById(ctx.actor.id, db);
    if (row === undefined || row.session_version !== (ctx.actor.sessionVersion ?? 0)) throw sessionEnded();
    return row;
  }

  async function insertUser(ctx: CallContext, row: NewUser): Promise<void> {
    await outbox.transaction(async (trx, emit) => {
      await repository.insert(trx, row);
      emit('users.user_registered', { user_id: row.id, username: row.username, email: row.email }, ctx);
    });
  }

  return {
    async register(ctx, input) {
      const { username, email, password } = validateRegistration(input);
      // Saves an argon2 computation in the common case; the unique constraint decides races.
      if (await repository.isTaken(username, email)) throw usersErrors.USER_EXISTS();
      const now = isoNow(clock);
      const row: NewUser = {
        id: newId(),
        username,
        email,
        password_hash: await passwords.hash(password),
        role: 'customer',
        created_at: now,
        updated_at: now,
      };
      try {
        await insertUser(ctx, row);
      } catch (error) {
        if (isUniqueViolation(error)) throw usersErrors.USER_EXISTS();
        throw error;
      }
      log.info({ request_id: ctx.requestId, user_id: row.id }, 'user registered');
      return toUser(row);
    },

    async authenticate(ctx, input: AuthenticateInput) {
      const { login, password } = input;
      if (typeof login !== 'string' || typeof password !== 'string') {
        throw platformErrors.VALIDATION_FAILED('login and password must be strings');
      }
      // No stored password is longer; refusing early keeps huge inputs away from argon2.
      if (characters(password) > PASSWORD_MAX_LENGTH || login.length > EMAIL_MAX_LENGTH) {
        throw usersErrors.INVALID_CREDENTIALS();
      }
      const row = await accountNamedBy(repository, login);
      const matches = await passwords.verify(row?.password_hash, password);
      if (!row || !matches) {
        log.info({ request_id: ctx.requestId }, 'login refused');
        throw usersErrors.INVALID_CREDENTIALS();
      }
      return { ...toUser(row), session_version: row.session_version };
    },

    async session(ctx, id) {
      if (typeof id !== 'string' || (ctx.actor !== undefined && ctx.actor.id !== id))
        throw usersErrors.USER_NOT_FOUND();
      const row = await repository.findById(id);
      if (!row) throw usersErrors.USER_NOT_FOUND();
      return { role: row.role, session_version: row.session_version };
    },

    async getUser(ctx, id) {
      const actor = await currentActor(ctx);
      if (typeof id !== 'string' || !mayAccess(actor, id)) throw usersErrors.USER_NOT_FOUND();
      const row = actor?.id === id ? actor : await repository.findById(id);
      if (!row) throw usersErrors.USER_NOT_FOUND();
      return toUser(row);
    },

    async updateUser(ctx, id, input) {
      if (typeof id !== 'string' || !mayAccess(await currentActor(ctx), id))
        throw usersErrors.USER_NOT_FOUND();
      const changes = validateUpdate(input);
      const passwordHash =
        changes.password === undefined ? undefined : await passwords.hash(changes.password);
      try {
        const updated = await outbox.transaction(async (trx, emit) => {
          // Judged again in the transaction that writes: the actor may have been demoted meanwhile.
          const actor = await currentActor(ctx, trx);
          if (!mayAccess(actor, id)) throw usersErrors.USER_NOT_FOUND();
          if (changes.role !== undefined && actor.role !== 'admin')
            throw platformErrors.FORBIDDEN('Only an admin may change a role');
          const current = actor.id === id ? actor : await repository.findById(id, trx);
          if (!current) throw usersErrors.USER_NOT_FOUND();
          const endsSessions =
            passwordHash !== undefined || (changes.role !== undefined && changes.role !== current.role);
          const row = await repository.update(trx, id, {
            ...(changes.email !== undefined ? { email: changes.email } : {}),
            ...(passwordHash !== undefined ? { password_hash: passwordHash } : {}),
            ...(changes.role !== undefined ? { role: changes.role } : {}),
            ...(endsSessions ? { session_version: current.session_version + 1 } : {}),
            updated_at: isoNow(clock),
          });
          if (!row) throw usersErrors.USER_NOT_FOUND();
          if (row.email !== current.email) {
            emit('users.user_updated', { user_id: row.id, username: row.username, email: row.email }, ctx);
          }
          if (endsSessions) {
            emit('users.sessions_ended', { user_id: row.id, session_version: row.session_version }, ctx);
          }
          return row;
        });
        log.info({ request_id: ctx.requestId, user_id: id, fields: Object.keys(changes) }, 'user updated');
        return toUser(updated);
      } catch (error) {
        if (isUniqueViolation(error)) throw usersErrors.USER_EXISTS();
        throw error;
      }
    },

    async ensureAdmin(ctx, input) {
      // Meant for the system at start; a signed-in customer must never reach it.
      if (ctx.actor && (await currentActor(ctx))?.role !== 'admin')
        throw platformErrors.FORBIDDEN('Only the system or an admin');
      const errors: FieldError[] = [];
      const email = checkEmail(input.email, errors, OPERATOR_EMAIL);
      const password = checkPassword(input.password, errors);
      raiseIfAny(errors);
      if (await repository.adminExists()) return { created: false };
      const passwordHash = await passwords.hash(password);
      const now = isoNow(clock);
      try {
        const outcome = await outbox.transaction(async (trx, emit) => {
          // Checked again under a lock: another instance may have won meanwhile (on Postgres the advisory
          // lock makes two instances restoring a demoted admin run one after the other).
          await lockKey(trx, 'users.ensure-admin', ADMIN_USERNAME);
          if (await repository.adminExists(trx)) return 'exists';
          // A demoted `admin` is restored with the configured password, the operator's way back in;
          // whatever tokens it had are of the old session.
          const demoted = await repository.findByUsername(ADMIN_USERNAME, trx);
          if (demoted) {
            const restored = await repository.updateByUsername(trx, ADMIN_USERNAME, {
              password_hash: passwordHash,
              role: 'admin',
              session_version: demoted.session_version + 1,
              updated_at: now,
            });
            emit(
              'users.sessions_ended',
              { user_id: demoted.id, session_version: restored!.session_version },
              ctx,
            );
            return 'restored';
          }
          const row: NewUser = {
            id: newId(),
            username: ADMIN_USERNAME,
            email,
            password_hash: passwordHash,
            role: 'admin',
            created_at: now,
            updated_at: now,
          };
          await repository.insert(trx, row);
          emit('users.user_registered', { user_id: row.id, username: row.username, email: row.email }, ctx);
          return 'created';
        });
        if (outcome !== 'exists') log.info({ request_id: ctx.requestId, outcome }, 'admin ensured');
        return { created: outcome !== 'exists' };
      } catch (error) {
        if (isUniqueViolation(error) && (await repository.adminExists())) return { created: false };
        if (isUniqueViolation(error)) throw usersErrors.USER_EXISTS();
        throw error;
      }
    },
  };
}
