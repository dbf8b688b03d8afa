import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import Type from 'typebox';
import type { LoginKeys, LoginThrottle } from '../../platform/auth/login-throttle.ts';
import { hasCode } from '../../platform/errors.ts';
import { callContext } from '../../platform/http/context.ts';
import type { Authenticated, UsersApi } from './contract.ts';
import { EMAIL_MAX_LENGTH, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, USERNAME_PATTERN } from './service.ts';

const Username = Type.String({ pattern: USERNAME_PATTERN, minLength: 3, maxLength: 32 });
const Email = Type.String({ format: 'email', maxLength: EMAIL_MAX_LENGTH });
const Password = Type.String({ minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH });
const Role = Type.Enum(['customer', 'admin']);

const UserResponse = Type.Object(
  {
    id: Type.String(),
    username: Type.String(),
    email: Type.String(),
    role: Role,
    created_at: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);

const RegisterBody = Type.Object(
  { username: Username, email: Email, password: Password },
  { additionalProperties: false },
);

// Loose on purpose: a login that cannot exist is a 401 like any other, not a hint about the rules.
const LoginName = Type.String({ minLength: 1, maxLength: EMAIL_MAX_LENGTH });
const LoginPassword = Type.String({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH });
const LoginBody = Type.Union([
  Type.Object({ username: LoginName, password: LoginPassword }, { additionalProperties: false }),
  Type.Object({ email: LoginName, password: LoginPassword }, { additionalProperties: false }),
]);

const TokenResponse = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer(),
});

const UpdateBody = Type.Object(
  { email: Type.Optional(Email), password: Type.Optional(Password), role: Type.Optional(Role) },
  { additionalProperties: false, minProperties: 1 },
);

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });

const bearer = [{ bearer: [] }];

export interface UsersRoutesOptions {
  readonly loginThrottle: LoginThrottle;
  /** The id of the account a username or email names, if any: failed logins count against it. */
  readonly accountOf: (login: string) => Promise<{ id: string; sessionVersion: number } | undefined>;
}

/** `/auth/register`, `/auth/login` and `/users`, as API.md describes them. */
export function createUsersRoutes(api: UsersApi, options: UsersRoutesOptions): FastifyPluginAsync {
  const { loginThrottle, accountOf } = options;
  return async (instance) => {
    const app = instance.withTypeProvider<TypeBoxTypeProvider>();

    // POST /users is the same as POST /auth/register.
    for (const url of ['/auth/register', '/users']) {
      app.post(
        url,
        {
          schema: {
            tags: ['users'],
            summary: 'Register a customer',
            body: RegisterBody,
            response: { 201: UserResponse },
          },
        },
        async (request, reply) =>
          reply.status(201).send(await api.register(callContext(request), request.body)),
      );
    }

    app.post(
      '/auth/login',
      {
        schema: {
          tags: ['users'],
          summary: 'Exchange a username or email and a password for an access token',
          body: LoginBody,
          response: { 200: TokenResponse },
        },
      },
      async (request, reply) => {
        const { body } = request;
        const login = 'username' in body ? body.username : body.email;
        // An account's username and email share one budget; a name no account has, one of its own.
        const account = await accountOf(login);
        const keys: LoginKeys = {
          username: account === undefined ? `login:${login}` : `account:${account.id}`,
          address: request.ip,
          ...(account && { session: `${account.id}@${account.sessionVersion}` }),
        };
        let user: Authenticated;
        try {
          user = await loginThrottle.attempt(
            keys,
            () => api.authenticate(callContext(request), { login, password: body.password }),
            // Only a wrong password stays counted: a check that was busy or failed guessed nothing.
            (error) => hasCode(error, 'INVALID_CREDENTIALS'),
          );
        } catch (error) {
          if (hasCode(error, 'RATE_LIMITED')) reply.header('retry-after', error.extra.retry_after);
          throw error;
        }
        return app.issueToken({ id: user.id, role: user.role, sessionVersion: user.session_version });
      },
    );

    app.get(
      '/users/me',
      {
        onRequest: app.requireUser,
        schema: { tags: ['users'], summary: 'The caller', security: bearer, response: { 200: UserResponse } },
      },
      async (request) => api.getUser(callContext(request), request.actor!.id),
    );

    app.get(
      '/users/:id',
      {
        onRequest: app.requireUser,
        schema: {
          tags: ['users'],
          summary: 'A user, to itself or an admin',
          security: bearer,
          params: IdParams,
          response: { 200: UserResponse },
        },
      },
      async (request) => api.getUser(callContext(request), request.params.id),
    );

    app.patch(
      '/users/:id',
      {
        onRequest: app.requireUser,
        schema: {
          tags: ['users'],
          summary: 'Change email or password; role by an admin only',
          security: bearer,
          params: IdParams,
          body: UpdateBody,
          response: { 200: UserResponse },
        },
      },
      async (request) => api.updateUser(callContext(request), request.params.id, request.body),
    );
  };
}
