import type { CallContext, Role } from '../../platform/context.ts';
import { defineErrors } from '../../platform/errors.ts';
import type { MethodNames } from '../../platform/in-process.ts';

/** A user as every reader sees it: never a password or its hash. */
export interface User {
  readonly id: string;
  readonly username: string;
  readonly email: string;
  readonly role: Role;
  /** RFC 3339, UTC. */
  readonly created_at: string;
}

/** A user who gave the right password: the user, and the session version its token is to carry. */
export interface Authenticated extends User {
  readonly session_version: number;
}

/** What a token of the user may still do: the role it has now, and the session version tokens must carry. */
export interface Session {
  readonly role: Role;
  readonly session_version: number;
}

/**
 * @example { username: 'ada', email: 'ada@example.com', password: 'correct horse battery' }
 */
export interface RegisterInput {
  /** 3–32 of `[a-z0-9_.-]`. */
  readonly username: string;
  readonly email: string;
  /** 8–128 characters. */
  readonly password: string;
}

/** `login` is a username or an email address. */
export interface AuthenticateInput {
  readonly login: string;
  readonly password: string;
}

/** `role` may be changed by an admin only. */
export interface UpdateUserInput {
  readonly email?: string;
  readonly password?: string;
  readonly role?: Role;
}

/** The users module: identity, credentials and roles. Authorization is checked against `ctx.actor`. */
export interface UsersApi {
  /** Creates a customer. Raises `USER_EXISTS` when the username or email is taken. */
  register(ctx: CallContext, input: RegisterInput): Promise<User>;
  /**
   * Checks a password. Unknown user and wrong password both raise `INVALID_CREDENTIALS`, in similar time.
   * Raises `PASSWORD_CHECKS_BUSY` when too many checks are already running.
   */
  authenticate(ctx: CallContext, input: AuthenticateInput): Promise<Authenticated>;
  /**
   * The user's current session, for the edge (the system) and the user itself; `USER_NOT_FOUND` for
   * anyone else, or when there is no such user.
   */
  session(ctx: CallContext, id: string): Promise<Session>;
  /**
   * The user, if the actor is that user or an admin; otherwise `USER_NOT_FOUND`. Here and in
   * `updateUser`, an actor whose token is of an ended session gets `UNAUTHORIZED`, and an admin is one
   * the table says is an admin now.
   */
  getUser(ctx: CallContext, id: string): Promise<User>;
  /** Updates email, password or (admin only, else `FORBIDDEN`) role; a role or password change ends the user's sessions. */
  updateUser(ctx: CallContext, id: string, input: UpdateUserInput): Promise<User>;
  /** Creates the `admin` user with this password and email when no admin exists yet. */
  ensureAdmin(ctx: CallContext, input: { password: string; email: string }): Promise<{ created: boolean }>;
}

/** Events the users module publishes. */
export interface UsersEvents {
  /** A new user registered; carries the contact details notifications need. */
  'users.user_registered': { user_id: string; username: string; email: string };
  /** A user's email changed. */
  'users.user_updated': { user_id: string; username: string; email: string };
  /** A user's role or password changed: every token of an older session version is to be refused. */
  'users.sessions_ended': { user_id: string; session_version: number };
}

export const usersErrors = defineErrors({
  USER_EXISTS: { status: 409, title: 'The username or email is already taken' },
  INVALID_CREDENTIALS: { status: 401, title: 'The username or password is wrong' },
  USER_NOT_FOUND: { status: 404, title: 'No such user' },
  PASSWORD_CHECKS_BUSY: { status: 429, title: 'Too many password checks are running; try again shortly' },
});

/** Every method of UsersApi, in one list that every adapter serves. */
export const usersMethods = [
  'register',
  'authenticate',
  'session',
  'getUser',
  'updateUser',
  'ensureAdmin',
] as const satisfies MethodNames<UsersApi>;

/** Methods safe to retry after a transport failure: reads, and writes made idempotent by a key in their input. */
export const usersIdempotentMethods = [
  'authenticate',
  'session',
  'getUser',
  'ensureAdmin',
] as const satisfies MethodNames<UsersApi>;
