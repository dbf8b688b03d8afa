import { createSigner, createVerifier } from 'fast-jwt';
import { connectionMemo } from '../connection-memo.ts';
import type { Actor } from '../context.ts';
import { platformErrors } from '../errors.ts';

/** The header that carries the caller's identity between Splitshop processes, signed with the internal secret. */
export const IDENTITY_HEADER = 'x-splitshop-identity';
const AUDIENCE = 'splitshop-internal';
const TTL_MS = 60_000;
/** A token is sent again while it has more than this much life left, then a new one is signed. */
const REUSE_MS = TTL_MS / 2;
const ANONYMOUS = '';

interface Signed {
  readonly token: string;
  /** Until when (epoch ms) it is sent again. */
  readonly reuseUntil: number;
}

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
  /**
   * Raises `UNAUTHORIZED` for a missing, forged or expired token. `connection`, the request's socket,
   * remembers the token it brought last: a caller's connection mostly brings the same few tokens (one
   * per actor, the anonymous one most of all), and the verifier's cache hashes every token it is asked
   * about with SHA-256.
   */
  verify(token: string | undefined, connection?: object): VerifiedIdentity;
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
  const signed = new Map<string, Signed>();
  // The token last used for each `Actor` object: the edge hands out one per verified bearer token, so
  // a known caller's token is found without joining and hashing a key for `signed` on every request.
  const byActor = new WeakMap<Actor, Signed>();
  const lastIdentity = connectionMemo<VerifiedIdentity>('splitshop.lastIdentity');
  return {
    sign(actor) {
      const now = Date.now();
      const mine = actor === undefined ? undefined : byActor.get(actor);
      if (mine !== undefined && mine.reuseUntil > now) return mine.token;
      const version = actor?.sessionVersion ?? 0;
      const key = actor === undefined ? ANONYMOUS : `${actor.role}:${version}:${actor.id}`;
      let known = signed.get(key);
      if (known === undefined || known.reuseUntil <= now) {
        const token = signer(actor === undefined ? {} : { sub: actor.id, role: actor.role, ver: version });
        // Bounded: past 10 000 actors the oldest entry goes (a Map iterates in insertion order).
        if (known === undefined && signed.size >= 10_000) signed.delete(signed.keys().next().value!);
        known = { token, reuseUntil: now + REUSE_MS };
        signed.set(key, known);
      }
      if (actor !== undefined) byActor.set(actor, known);
      return known.token;
    },
    verify(token, connection) {
      if (!token) throw platformErrors.UNAUTHORIZED('The internal credential is missing');
      const last = connection === undefined ? undefined : lastIdentity.recall(connection, token);
      if (last !== undefined) return last;
      let claims: { sub?: unknown; role?: unknown; ver?: unknown; exp?: unknown };
      try {
        claims = verifier(token);
      } catch {
        throw platformErrors.UNAUTHORIZED('The internal credential is not valid');
      }
      const role = claims.role === 'admin' || claims.role === 'customer' ? claims.role : undefined;
      const sessionVersion = Number.isSafeInteger(claims.ver) ? (claims.ver as number) : 0;
      const identity: VerifiedIdentity =
        typeof claims.sub === 'string' && role ? { actor: { id: claims.sub, role, sessionVersion } } : {};
      // `exp` is required and was checked by the verifier, so it is a number of seconds here.
      if (connection !== undefined)
        lastIdentity.remember(connection, token, identity, (claims.exp as number) * 1000);
      return identity;
    },
  };
}
