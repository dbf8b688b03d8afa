import { createHmac, createSecretKey } from 'node:crypto';
import { createVerifier } from 'fast-jwt';
import type { CallContext } from '../context.ts';
import { platformErrors } from '../errors.ts';

/** The header that carries a call's context between Splitshop processes, signed with the internal secret. */
export const IDENTITY_HEADER = 'x-splitshop-identity';
const AUDIENCE = 'splitshop-internal';
const TTL_MS = 60_000;
/** The JOSE header of every identity token, encoded once. */
const HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');

/**
 * Signs and verifies the context a process forwards to another: the request id, the actor the edge
 * verified, the trace context. Holding the internal secret is the internal service credential; a
 * client that sends this header without a valid signature is refused, never trusted.
 */
export interface InternalAuth {
  sign(ctx: CallContext): string;
  /** Raises `UNAUTHORIZED` for a missing, forged or expired token. */
  verify(token: string | undefined): CallContext;
}

export function createInternalAuth(secret: string): InternalAuth {
  if (Buffer.byteLength(secret) < 32) throw new Error('The internal secret must be at least 32 bytes');
  const key = createSecretKey(Buffer.from(secret));
  const verifier = createVerifier({
    key: secret,
    algorithms: ['HS256'],
    allowedAud: AUDIENCE,
    requiredClaims: ['exp', 'iat'],
    cache: 1000,
  });
  return {
    // The gateway signs every request it forwards: HS256 written out (the claims fast-jwt would write),
    // without a JWT library's per-call option handling.
    sign(ctx) {
      const iat = Math.floor(Date.now() / 1000);
      const claims = JSON.stringify({
        rid: ctx.requestId,
        ...(ctx.actor ? { sub: ctx.actor.id, role: ctx.actor.role } : {}),
        ...(ctx.traceparent ? { tp: ctx.traceparent } : {}),
        aud: AUDIENCE,
        iat,
        exp: iat + TTL_MS / 1000,
      });
      const input = `${HEADER}.${Buffer.from(claims).toString('base64url')}`;
      return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
    },
    verify(token) {
      if (!token) throw platformErrors.UNAUTHORIZED('The internal credential is missing');
      let claims: { rid?: unknown; sub?: unknown; role?: unknown; tp?: unknown };
      try {
        claims = verifier(token);
      } catch {
        throw platformErrors.UNAUTHORIZED('The internal credential is not valid');
      }
      const role = claims.role === 'admin' || claims.role === 'customer' ? claims.role : undefined;
      return {
        requestId: typeof claims.rid === 'string' ? claims.rid : 'unknown',
        ...(typeof claims.sub === 'string' && role ? { actor: { id: claims.sub, role } } : {}),
        ...(typeof claims.tp === 'string' ? { traceparent: claims.tp } : {}),
      };
    },
  };
}
