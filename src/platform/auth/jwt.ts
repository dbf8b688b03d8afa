import type { IncomingMessage } from 'node:http';
import fastifyJwt from '@fastify/jwt';
import type { FastifyRequest } from 'fastify';

import fp from 'fastify-plugin';
import { connectionMemo } from '../connection-memo.ts';
import { type Actor, type Role, traceparentFrom } from '../context.ts';
import { type AppError, hasCode, isAppError, platformErrors } from '../errors.ts';
import { IDENTITY_HEADER, type InternalAuth, type VerifiedIdentity } from '../rpc/identity.ts';
import type { Sessions } from './sessions.ts';

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
  /** The user's session version when the token was issued. */
  ver?: number;
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
    /**
     * The caller of an `Authorization` header whose token this edge has verified and that has not
     * expired; `undefined` for any other, including a valid token not yet seen. Public edges only.
     * `connection` is the request's socket: the token it last brought is remembered on it.
     */
    verifiedActor(authorization: string, connection: object): Actor | undefined;
  }
}

const ROLES = new Set<string>(['customer', 'admin']);

/** Whether `part` is base64url as an encoder writes it: decoding and encoding again gives it back. */
const isCanonicalBase64url = (part: string) => Buffer.from(part, 'base64url').toString('base64url') === part;
const VERIFIED_TOKENS_KEPT = 10_000;

/** A bearer token this edge verified: who it names, and until when (epoch ms). */
interface VerifiedToken {
  readonly actor: Actor;
  readonly until: number;
}

/** Routes a process behind the gateway answers without an identity: the gateway's health checks. */
const HEALTH_ROUTES = new Set(['/health', '/health/live', '/health/ready']);

const VERIFIED = Symbol('splitshop.identity');
type Tagged = IncomingMessage & { [VERIFIED]?: VerifiedIdentity | AppError };

/**
 * The identity signed in a request's `x-splitshop-identity` header, or the `UNAUTHORIZED` error that
 * refuses it; verified once per request.
 */
export function verifiedIdentity(
  req: IncomingMessage,
  internalAuth: InternalAuth,
): VerifiedIdentity | AppError {
  const tagged = req as Tagged;
  let verified = tagged[VERIFIED];
  if (verified === undefined) {
    const token = req.headers[IDENTITY_HEADER];
    try {
      verified = internalAuth.verify(typeof token === 'string' ? token : undefined, req.socket);
    } catch (error) {
      verified = isAppError(error)
        ? error
        : platformErrors.UNAUTHORIZED('The internal credential is not valid');
    }
    tagged[VERIFIED] = verified;
  }
  return verified;
}

/** Adds the user id to the request's log lines. */
function bindUser(request: FastifyRequest, userId: string): void {
  // request.log is this request's own child logger: binding to it (pino) is cheaper than another child.
  const log = request.log as FastifyRequest['log'] & { setBindings?: (bindings: object) => void };
  if (typeof log.setBindings === 'function') log.setBindings({ user_id: userId });
  else request.log = log.child({ user_id: userId });
}

/** The auth plugin's settings: the JWT settings, and the internal identity of a process behind the gateway. */
export interface AuthPluginOptions extends AuthOptions {
  /**
   * Behind the gateway: the actor comes only from a valid signed `x-splitshop-identity`, which every
   * request but a health check must carry (anonymous or not), and `Authorization` is ignored. Tokens
   * are still issued with the JWT settings.
   */
  readonly internalAuth?: InternalAuth;
  /**
   * Where a token's session is checked, at a public edge: a customer's token against the cached
   * session, an admin's with the users module itself, on every request. Behind the gateway the
   * identity it signed is taken as checked. Without it (tests of the edge alone) a token is judged by
   * its signature and claims.
   */
  readonly sessions?: Sessions;
}

/**
 * Verifies bearer tokens with the algorithm pinned to HS256 and `exp`, `sub`, `iat`, issuer and audience
 * required. Verification runs on every request that carries a token, so rate limits can key on the user;
 * routes decide with `requireUser` / `requireAdmin` whether they need one.
 */
export const authPlugin = fp(
  async (app, options: AuthPluginOptions) => {
    await app.register(fastifyJwt, {
      secret: options.secret,
      sign: {
        algorithm: 'HS256',
        // @fastify/jwt takes a number here as seconds (and converts it to fast-jwt's milliseconds).
        expiresIn: options.ttlSeconds,
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
    const { internalAuth, sessions } = options;
    if (internalAuth !== undefined) {
      app.addHook('onRequest', async (request) => {
        if (HEALTH_ROUTES.has(request.routeOptions.url ?? '')) return;
        const verified = verifiedIdentity(request.raw, internalAuth);
        if (isAppError(verified)) throw verified;
        // The trace context came with a valid credential; a malformed one is dropped, not passed on.
        if (traceparentFrom(request.headers.traceparent) === undefined) delete request.headers.traceparent;
        if (verified.actor === undefined) return;
        request.actor = verified.actor;
        bindUser(request, verified.actor.id);
      });
    } else {
      // A client sends one token with many requests: a token verified once is taken as it is until it
      // expires. Keyed by the whole `Authorization` header, which is exactly `Bearer <token>` (the
      // pattern below), so no other token can match and a known header needs no parsing; refusals are
      // never kept.
      const verified = new Map<string, VerifiedToken>();
      const skewMs = options.clockSkewSeconds * 1000;
      // The scheme in any case (RFC 9110); each part in canonical base64url, so one token has one
      // spelling: a signature with its unused trailing bits changed would verify, and be another key.
      const tokenOf = (header: string) => {
        const token = /^bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*)$/i.exec(header)?.[1];
        return token?.split('.').every(isCanonicalBase64url) ? token : undefined;
      };
      // A client sends the same header with every request on its connection.
      const lastToken = connectionMemo<VerifiedToken>('splitshop.lastToken');
      /** The verified, unexpired token of `header`. */
      const knownToken = (header: string, connection: object): VerifiedToken | undefined => {
        const last = lastToken.recall(connection, header);
        if (last !== undefined) return last;
        const known = verified.get(header);
        if (known === undefined || known.until <= Date.now()) return undefined;
        lastToken.remember(connection, header, known, known.until);
        return known;
      };
      // The fast path takes only what needs no wait: a customer's token whose session is known current.
      app.decorate('verifiedActor', (header: string, connection: object) => {
        const actor = knownToken(header, connection)?.actor;
        if (actor === undefined || sessions === undefined) return actor;
        return actor.role !== 'admin' && sessions.isCurrent(actor) === true ? actor : undefined;
      });
      // A callback hook: it runs on every request and has nothing to wait for.
      app.addHook('onRequest', (request, _reply, done) => {
        const header = request.headers.authorization;
        if (header === undefined) return done();
        const connection = request.raw.socket;
        let known = knownToken(header, connection);
        if (known === undefined) {
          const token = tokenOf(header);
          if (token === undefined) {
            request.authError = 'The Authorization header must be "Bearer <token>", the token a JWT';
            return done();
          }
          try {
            const claims = app.jwt.verify<Claims & { exp: number; iat: number }>(token);
            if (typeof claims.sub !== 'string' || !ROLES.has(claims.role)) throw new Error('bad claims');
            // fast-jwt checks exp and nbf against the clock, not iat: a token issued in the future is forged.
            if (typeof claims.iat !== 'number' || claims.iat * 1000 > Date.now() + skewMs)
              throw new Error('issued in the future');
            const sessionVersion = Number.isSafeInteger(claims.ver) ? claims.ver! : 0;
            known = {
              actor: { id: claims.sub, role: claims.role, sessionVersion },
              until: claims.exp * 1000,
            };
          } catch {
            request.authError = 'The token is not valid';
            return done();
          }
          if (verified.size >= VERIFIED_TOKENS_KEPT) verified.delete(verified.keys().next().value!);
          verified.set(header, known);
          lastToken.remember(connection, header, known, known.until);
        }
        const { actor } = known;
        const admit = (current: boolean | undefined) => {
          // Unknown still: the users module could not be asked, and the signature stands (see sessions.ts).
          if (current === false) request.authError = 'The session has ended: sign in again';
          else {
            request.actor = actor;
            bindUser(request, actor.id);
          }
          done();
        };
        if (sessions === undefined) return admit(true);
        // An admin's token is confirmed with the users module on every request, never from the cache:
        // a demoted admin loses its rights at once, in every process and every instance.
        if (actor.role === 'admin') {
          sessions.confirm(actor).then(
            (role) => admit(role === 'admin'),
            (error) => (hasCode(error, 'UNAUTHORIZED') ? admit(false) : done(error)),
          );
          return;
        }
        const current = sessions.isCurrent(actor);
        if (current !== undefined) return admit(current);
        sessions.load(actor.id).then(() => admit(sessions.isCurrent(actor)), done);
      });
    }
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
        access_token: app.jwt.sign({ sub: actor.id, role: actor.role, ver: actor.sessionVersion ?? 0 }),
        token_type: 'Bearer',
        expires_in: options.ttlSeconds,
      }),
    );
  },
  { name: 'splitshop-auth' },
);
