import fastifyJwt from '@fastify/jwt';
import type { FastifyRequest } from 'fastify';

import fp from 'fastify-plugin';
import type { Actor, Role } from '../context.ts';
import { platformErrors } from '../errors.ts';

export interface AuthOptions {
  readonly secret: string;
  readonly ttlSeconds: number;
  readonly issuer: string;
  readonly audience: string;
  readonly clockSkewSeconds: number;
}

/** What `POST /auth/login` answers. */
export interface AccessToken {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
}

interface Claims {
  sub: string;
  role: Role;
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: Claims;
    user: Claims;
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified caller, when a valid bearer token came with the request. */
    actor: Actor | undefined;
    /** Why the bearer token that came was refused. */
    authError: string | undefined;
  }
  interface FastifyInstance {
    /** preHandler: 401 unless a valid token came. */
    requireUser(request: FastifyRequest): Promise<void>;
    /** preHandler: 401 without a valid token, 403 unless the caller is an admin. */
    requireAdmin(request: FastifyRequest): Promise<void>;
    issueToken(actor: Actor): AccessToken;
  }
}

const ROLES = new Set<string>(['customer', 'admin']);

/**
 * Verifies bearer tokens with the algorithm pinned to HS256 and `exp`, `sub`, `iat`, issuer and audience
 * required. Verification runs on every request that carries a token, so rate limits can key on the user;
 * routes decide with `requireUser` / `requireAdmin` whether they need one.
 */
export const authPlugin = fp(
  async (app, options: AuthOptions) => {
    await app.register(fastifyJwt, {
      secret: options.secret,
      sign: {
        algorithm: 'HS256',
        expiresIn: options.ttlSeconds * 1000,
        iss: options.issuer,
        aud: options.audience,
      },
      verify: {
        algorithms: ['HS256'],
        allowedIss: options.issuer,
        allowedAud: options.audience,
        requiredClaims: ['exp', 'iat', 'sub', 'iss', 'aud'],
        clockTolerance: options.clockSkewSeconds * 1000,
      },
    });
    app.decorateRequest('actor', undefined);
    app.decorateRequest('authError', undefined);
    app.addHook('onRequest', async (request) => {
      const header = request.headers.authorization;
      if (header === undefined) return;
      const match = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*)$/.exec(header);
      if (!match) {
        request.authError = 'The Authorization header must be "Bearer <token>"';
        return;
      }
      try {
        const claims = app.jwt.verify<Claims>(match[1]!);
        if (typeof claims.sub !== 'string' || !ROLES.has(claims.role)) throw new Error('bad claims');
        request.actor = { id: claims.sub, role: claims.role };
        request.log = request.log.child({ user_id: claims.sub });
      } catch {
        request.authError = 'The token is not valid';
      }
    });
    app.decorate('requireUser', async (request: FastifyRequest) => {
      if (!request.actor)
        throw platformErrors.UNAUTHORIZED(request.authError ?? 'A bearer token is required');
    });
    app.decorate('requireAdmin', async (request: FastifyRequest) => {
      if (!request.actor)
        throw platformErrors.UNAUTHORIZED(request.authError ?? 'A bearer token is required');
      if (request.actor.role !== 'admin') throw platformErrors.FORBIDDEN('Admins only');
    });
    app.decorate(
      'issueToken',
      (actor: Actor): AccessToken => ({
        access_token: app.jwt.sign({ sub: actor.id, role: actor.role }),
        token_type: 'Bearer',
        expires_in: options.ttlSeconds,
      }),
    );
  },
  { name: 'splitshop-auth' },
);
