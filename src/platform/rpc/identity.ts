import { createSigner, createVerifier } from 'fast-jwt';
import type { CallContext } from '../context.ts';
import { platformErrors } from '../errors.ts';

/** The header that carries a call's context between Splitshop processes, signed with the internal secret. */
export const IDENTITY_HEADER = 'x-splitshop-identity';
const AUDIENCE = 'splitshop-internal';
const TTL_MS = 60_000;

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
  const signer = createSigner({ key: secret, algorithm: 'HS256', aud: AUDIENCE, expiresIn: TTL_MS });
  const verifier = createVerifier({
    key: secret,
    algorithms: ['HS256'],
    allowedAud: AUDIENCE,
    requiredClaims: ['exp', 'iat'],
    cache: 1000,
  });
  return {
    sign(ctx) {
      return signer({
        rid: ctx.requestId,
        ...(ctx.actor ? { sub: ctx.actor.id, role: ctx.actor.role } : {}),
        ...(ctx.traceparent ? { tp: ctx.traceparent } : {}),
      });
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
