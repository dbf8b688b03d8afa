import { createHmac, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { createInternalAuth } from '../../../src/platform/rpc/identity.ts';
import { decodeJwt } from '../http-client.ts';
import { TEST_JWT_SECRET } from '../shop.ts';
import { TEST_INTERNAL_SECRET } from '../split.ts';

/** The JWT settings the suite starts both topologies with. */
export const JWT = {
  secret: TEST_JWT_SECRET,
  issuer: 'splitshop',
  audience: 'splitshop-api',
  skewSeconds: 30,
} as const;

type Json = Record<string, unknown>;

const part = (value: Json | string) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** A JWS signed with HMAC over whatever header and payload it is given. */
export function hmacToken(
  header: Json,
  payload: Json | string,
  key: string | Buffer,
  hash = 'sha256',
): string {
  const input = `${part(header)}.${part(payload)}`;
  return `${input}.${createHmac(hash, key).update(input).digest('base64url')}`;
}

function keyToken(header: Json, payload: Json, key: KeyObject): string {
  const input = `${part(header)}.${part(payload)}`;
  const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

const HS256 = { alg: 'HS256', typ: 'JWT' };
const now = () => Math.floor(Date.now() / 1000);

/** A token signed with the shop's own secret, algorithm and claims, changed by `changes` (undefined drops a claim). */
export function mint(claims: Json, changes: Json = {}): string {
  return hmacToken(HS256, { ...claims, ...changes }, JWT.secret);
}

/** Well-formed claims for `sub` and `role`, as the shop issues them. */
export function claimsFor(sub: string, role: string): Json {
  const iat = now();
  return { sub, role, iat, exp: iat + 900, iss: JWT.issuer, aud: JWT.audience };
}

/** Genuine tokens the forgeries are made from. */
export interface ForgeryInputs {
  readonly admin: string;
  readonly customer: string;
  /** Another user's id, for a customer token whose subject is swapped. */
  readonly otherUserId: string;
}

export interface Forgery {
  readonly what: string;
  make(inputs: ForgeryInputs): string;
}

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsaPublicPem = rsa.publicKey.export({ type: 'spki', format: 'pem' });
const outside = JWT.skewSeconds + 20;
const inside = JWT.skewSeconds - 20;

const admin = (i: ForgeryInputs) => decodeJwt(i.admin).payload;
const partsOf = (token: string) => token.split('.') as [string, string, string];
/** Keeps the genuine header and signature of `token` around another payload. */
const repayload = (token: string, payload: Json) => {
  const [header, , signature] = partsOf(token);
  return `${header}.${part(payload)}.${signature}`;
};

/**
 * Tokens the shop must refuse with 401, however a route is reached. Every claim-level case is signed
 * with the shop's real secret and algorithm, so it is refused for its claim and nothing else.
 */
export const FORGERIES: readonly Forgery[] = [
  { what: 'alg none, unsigned', make: (i) => `${part({ alg: 'none', typ: 'JWT' })}.${part(admin(i))}.` },
  {
    what: 'alg none keeping the genuine signature',
    make: (i) => `${part({ alg: 'none', typ: 'JWT' })}.${partsOf(i.admin)[1]}.${partsOf(i.admin)[2]}`,
  },
  { what: 'alg NONE', make: (i) => `${part({ alg: 'NONE', typ: 'JWT' })}.${part(admin(i))}.` },
  { what: 'alg nOnE', make: (i) => `${part({ alg: 'nOnE' })}.${part(admin(i))}.` },
  { what: 'no alg, HMAC with the secret', make: (i) => hmacToken({ typ: 'JWT' }, admin(i), JWT.secret) },
  {
    what: 'HS384 with the secret',
    make: (i) => hmacToken({ alg: 'HS384', typ: 'JWT' }, admin(i), JWT.secret, 'sha384'),
  },
  {
    what: 'HS512 with the secret',
    make: (i) => hmacToken({ alg: 'HS512', typ: 'JWT' }, admin(i), JWT.secret, 'sha512'),
  },
  {
    what: 'RS256 by an attacker key',
    make: (i) => keyToken({ alg: 'RS256', typ: 'JWT' }, admin(i), rsa.privateKey),
  },
  {
    what: 'RS256 with the attacker key embedded as jwk',
    make: (i) =>
      keyToken(
        { alg: 'RS256', typ: 'JWT', jwk: rsa.publicKey.export({ format: 'jwk' }) },
        admin(i),
        rsa.privateKey,
      ),
  },
  {
    what: 'RS256 with a jku of the attacker',
    make: (i) => keyToken({ alg: 'RS256', jku: 'http://127.0.0.1:9/jwks.json' }, admin(i), rsa.privateKey),
  },
  {
    what: 'ES256 by an attacker key',
    make: (i) => keyToken({ alg: 'ES256', typ: 'JWT' }, admin(i), ec.privateKey),
  },
  {
    what: 'RS256 header, HMAC keyed with the public key',
    make: (i) => hmacToken({ alg: 'RS256', typ: 'JWT' }, admin(i), rsaPublicPem),
  },
  { what: 'HS256 keyed with a public key', make: (i) => hmacToken(HS256, admin(i), rsaPublicPem) },
  {
    what: 'HS256 with a kid to /dev/null and an empty key',
    make: (i) => hmacToken({ ...HS256, kid: '../../../../dev/null' }, admin(i), Buffer.alloc(0)),
  },
  { what: 'HS256 with the secret "secret"', make: (i) => hmacToken(HS256, admin(i), 'secret') },
  {
    what: 'HS256 with the internal service secret',
    make: (i) => hmacToken(HS256, admin(i), TEST_INTERNAL_SECRET),
  },
  {
    what: 'an internal identity token as a bearer token',
    make: (i) => createInternalAuth(TEST_INTERNAL_SECRET).sign({ id: String(admin(i).sub), role: 'admin' }),
  },
  {
    what: 'an unknown crit header',
    make: (i) => hmacToken({ ...HS256, crit: ['exp-v2'], 'exp-v2': 1 }, admin(i), JWT.secret),
  },
  {
    what: 'customer payload changed to admin, signature kept',
    make: (i) => repayload(i.customer, { ...decodeJwt(i.customer).payload, role: 'admin' }),
  },
  {
    what: 'customer payload with another sub, signature kept',
    make: (i) => repayload(i.customer, { ...decodeJwt(i.customer).payload, sub: i.otherUserId }),
  },
  {
    what: 'payload with exp extended, signature kept',
    make: (i) => repayload(i.admin, { ...admin(i), exp: now() + 86_400 * 365 }),
  },
  {
    what: 'one signature character changed',
    make: (i) => {
      const [h, p, s] = partsOf(i.admin);
      return `${h}.${p}.${s.startsWith('A') ? 'B' : 'A'}${s.slice(1)}`;
    },
  },
  { what: 'signature cut off', make: (i) => `${partsOf(i.admin).slice(0, 2).join('.')}.` },
  {
    what: "another genuine token's signature",
    make: (i) => `${partsOf(i.admin).slice(0, 2).join('.')}.${partsOf(i.customer)[2]}`,
  },
  { what: 'five parts (JWE shape)', make: (i) => `${i.admin}.AAAA.BBBB` },
  { what: 'a payload that is not JSON', make: () => hmacToken(HS256, 'not json', JWT.secret) },
  { what: 'expired an hour ago', make: (i) => mint(admin(i), { iat: now() - 4000, exp: now() - 3600 }) },
  {
    what: 'expired just outside the clock skew',
    make: (i) => mint(admin(i), { iat: now() - 900, exp: now() - outside }),
  },
  { what: 'nbf an hour ahead', make: (i) => mint(admin(i), { nbf: now() + 3600 }) },
  { what: 'nbf just outside the clock skew', make: (i) => mint(admin(i), { nbf: now() + outside }) },
  { what: 'iat an hour ahead', make: (i) => mint(admin(i), { iat: now() + 3600, exp: now() + 4500 }) },
  { what: 'iat just outside the clock skew', make: (i) => mint(admin(i), { iat: now() + outside }) },
  { what: 'iat as a string', make: (i) => mint(admin(i), { iat: String(now()) }) },
  { what: 'without exp', make: (i) => mint(admin(i), { exp: undefined }) },
  { what: 'exp as a string', make: (i) => mint(admin(i), { exp: String(now() + 900) }) },
  { what: 'without iat', make: (i) => mint(admin(i), { iat: undefined }) },
  { what: 'without sub', make: (i) => mint(admin(i), { sub: undefined }) },
  { what: 'sub a number', make: (i) => mint(admin(i), { sub: 1 }) },
  { what: 'without role', make: (i) => mint(admin(i), { role: undefined }) },
  { what: 'an unknown role', make: (i) => mint(admin(i), { role: 'root' }) },
  { what: 'another issuer', make: (i) => mint(admin(i), { iss: 'https://attacker.example' }) },
  { what: 'without issuer', make: (i) => mint(admin(i), { iss: undefined }) },
  { what: 'another audience', make: (i) => mint(admin(i), { aud: 'splitshop-internal' }) },
  { what: 'an audience list without ours', make: (i) => mint(admin(i), { aud: ['other', 'splitshop'] }) },
  { what: 'without audience', make: (i) => mint(admin(i), { aud: undefined }) },
];

/** Controls: tokens inside the clock skew, which the shop must accept (so the refusals above are for their claims). */
export const WITHIN_SKEW: readonly Forgery[] = [
  { what: 'minted with every claim right', make: (i) => mint(admin(i)) },
  { what: 'expired within the skew', make: (i) => mint(admin(i), { iat: now() - 900, exp: now() - inside }) },
  { what: 'nbf within the skew', make: (i) => mint(admin(i), { nbf: now() + inside }) },
  { what: 'iat within the skew', make: (i) => mint(admin(i), { iat: now() + inside }) },
];

/** Authorization headers that are not a bearer token at all. */
export const MALFORMED_AUTHORIZATION = [
  'Bearer',
  'Bearer ',
  'Bearer  a.b.c',
  'Bearer a.b',
  'Basic YWRtaW46YWRtaW4=',
  'Token abc',
];
