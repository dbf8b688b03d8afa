import { createSigner, createVerifier } from 'fast-jwt';
import type { Actor } from '../context.ts';
import { platformErrors } from '../errors.ts';

/** The header that carries the caller's identity between Splitshop processes, signed with the internal secret. */
export const IDENTITY_HEADER = 'x-splitshop-identity';
const AUDIENCE = 'splitshop-internal';
const TTL_MS = 60_000;
/** A token is sent again while it has more than this much life left, then a new one is signed. */
const REUSE_MS = TTL_MS / 2;
const ANONYMOUS = '';

/** What a valid identity token says: who the edge verified, or nobody (an anonymous request). */
export interface VerifiedIdentity {
  readonly actor?: Actor;
}

/**
 * Signs and verifies the identity a process forwards to another: the actor the edge verified, or none.
 * Holding the internal secret is the internal service credential; a request that carries this header
 * without a valid signature is refused, never trusted. The request id and trace context travel beside it
 * as ordinary headers (`x-request-id`, `traceparent`), accepted only on a request whose token is valid:
 * they say how to log and trace a call, not who may make it.
 *
 * One token per actor is signed and reused for half its one-minute life, so neither the gateway nor
 * the service it calls computes an HMAC per request (the verifier caches the tokens it has checked).
 */
export interface InternalAuth {
  sign(actor: Actor | undefined): string;
  /** Raises `UNAUTHORIZED` for a missing, forged or expired token. */
  verify(token: string | undefined): VerifiedIdentity;
}

export function createInternalAuth(secret: string): InternalAuth {
  if (Buffer.byteLength(secret) < 32) throw new Error('The internal secret must be at least 32 bytes');
  const signer = createSigner({ key: secret, algorithm: 'HS256', aud: AUDIENCE, expiresIn: TTL_MS });
  const verifier = createVerifier({
    key: secret,
    algorithms: ['HS256'],
    allowedAud: AUDIENCE,
    requiredClaims: ['exp', 'iat'],
    cache: 10_000,
  });
  const signed = new Map<string, { readonly token: string; readonly reuseUntil: number }>();
  return {
    sign(actor) {
      const key = actor === undefined ? ANONYMOUS : `${actor.role}:${actor.id}`;
      const now = Date.now();
      const known = signed.get(key);
      if (known !== undefined && known.reuseUntil > now) return known.token;
      const token = signer(actor === undefined ? {} : { sub: actor.id, role: actor.role });
      // Bounded: past 10 000 actors the oldest entry goes (a Map iterates in insertion order).
      if (known === undefined && signed.size >= 10_000) signed.delete(signed.keys().next().value!);
      signed.set(key, { token, reuseUntil: now + REUSE_MS });
      return token;
    },
    verify(token) {
      if (!token) throw platformErrors.UNAUTHORIZED('The internal credential is missing');
      let claims: { sub?: unknown; role?: unknown };
      try {
        claims = verifier(token);
      } catch {
        throw platformErrors.UNAUTHORIZED('The internal credential is not valid');
      }
      const role = claims.role === 'admin' || claims.role === 'customer' ? claims.role : undefined;
      return typeof claims.sub === 'string' && role ? { actor: { id: claims.sub, role } } : {};
    },
  };
}
