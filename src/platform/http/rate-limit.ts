import rateLimit, { type RateLimitPluginOptions } from '@fastify/rate-limit';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import type { Actor } from '../context.ts';
import { platformErrors } from '../errors.ts';
import { createRateCounts, type RateCounts } from './rate-limit-counts.ts';

export interface RateLimitOptions {
  readonly max: number;
  readonly windowSeconds: number;
  /**
   * Counts in Redis, so that every gateway instance draws on one budget per user or address (see
   * `createRateCounts`: far from the limit counts are sent in batches, near it every request is counted
   * there). The edge opens its own connection from this client's settings, made to fail at once rather
   * than queue while Redis is unreachable. Then the limit fails open to the count in this process's
   * memory, so a Redis outage neither takes the shop down nor removes all protection.
   */
  readonly redis?: Redis;
}

/** How long a count may take in Redis before the request goes on without it. */
const REDIS_COMMAND_TIMEOUT_MS = 250;

/**
 * Each verified caller's key, made once. The edge hands out one `Actor` per verified token, so a user's
 * requests bring the same key string each time, whose hash the map of counts computes once; a key
 * joined anew for each request is copied and hashed every time.
 */
const actorKeys = new WeakMap<Actor, string>();

/** Whom a request counts against: the signed-in user, else the client's address. */
export function rateKeyOf(actor: Actor | undefined, address: string | undefined): string {
  if (actor === undefined) return `addr:${address}`;
  let key = actorKeys.get(actor);
  if (key === undefined) {
    key = `user:${actor.id}`;
    actorKeys.set(actor, key);
  }
  return key;
}

/** The edge's limit as written in `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers). */
export function ratePolicy(options: Pick<RateLimitOptions, 'max' | 'windowSeconds'>): string {
  return `"default";q=${options.max};w=${options.windowSeconds}`;
}

/** The `RateLimit` header's value: the requests left and the seconds until the window starts again. */
function rateValue(remaining: number | string, resetSeconds: number | string): string {
  return `"default";r=${remaining};t=${resetSeconds}`;
}

/**
 * The headers of an answer let through with `current` requests counted and `ttlMs` left in the window,
 * as the edge's `onSend` hook below writes them; the policy, which never changes, is written once.
 */
export function rateHeadersFor(
  options: Pick<RateLimitOptions, 'max' | 'windowSeconds'>,
): (current: number, ttlMs: number) => Record<string, string> {
  const policy = ratePolicy(options);
  return (current, ttlMs) => ({
    'ratelimit-policy': policy,
    ratelimit: rateValue(Math.max(0, options.max - current), Math.ceil(ttlMs / 1000)),
  });
}

/**
 * Limits requests per signed-in user, else per client address. Answers 429 with `Retry-After`, and
 * writes `RateLimit-Policy` / `RateLimit` (draft-ietf-httpapi-ratelimit-headers) on every response
 * whose count it knows.
 * Runs after token verification, so a user's limit follows them across addresses.
 */
export const rateLimitPlugin = fp(
  async (app, options: RateLimitOptions) => {
    const redis = options.redis?.duplicate({
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
      lazyConnect: false,
      // Every count sent in one turn of the event loop goes to Redis in one write, not one each.
      enableAutoPipelining: true,
    });
    // An unreachable Redis is expected here (the limit fails open); ioredis would log each attempt.
    redis?.on('error', () => undefined);
    const counts = createRateCounts({
      max: options.max,
      windowMs: options.windowSeconds * 1000,
      ...(redis ? { redis } : {}),
    });
    app.decorate('rateCounts', counts);
    app.addHook('onClose', async () => {
      await counts.close();
      redis?.disconnect();
    });
    await app.register(rateLimit, {
      global: true,
      max: options.max,
      timeWindow: options.windowSeconds * 1000,
      hook: 'onRequest',
      enableDraftSpec: true,
      store: counts.Store,
      keyGenerator: (request: FastifyRequest) => rateKeyOf(request.actor, request.ip),
      allowList: (request: FastifyRequest) => request.url.startsWith('/health'),
      errorResponseBuilder: (_request, context) =>
        Object.assign(platformErrors.RATE_LIMITED(`Try again in ${Math.ceil(context.ttl / 1000)} s`), {
          statusCode: 429,
        }),
    } satisfies RateLimitPluginOptions);
    // Without the shared count the numbers would claim a budget this instance cannot know: say nothing.
    const unshared = () => redis !== undefined && !counts.shared();
    const policy = ratePolicy(options);
    // A callback hook, not an async one: it runs on every response and has nothing to wait for.
    // @fastify/rate-limit writes the older draft's three headers; the answer carries the current draft's
    // two (`RateLimit-Policy` and `RateLimit`), as the gateway's fast path writes them.
    app.addHook('onSend', (_request, reply, payload, done) => {
      const limit = reply.getHeader('ratelimit-limit');
      if (limit !== undefined) {
        const remaining = reply.getHeader('ratelimit-remaining') ?? 0;
        const reset = reply.getHeader('ratelimit-reset') ?? 0;
        reply.removeHeader('ratelimit-limit').removeHeader('ratelimit-remaining');
        reply.removeHeader('ratelimit-reset');
        if (reply.statusCode === 429 || !unshared()) {
          reply.header('ratelimit-policy', policy);
          reply.header('ratelimit', rateValue(String(remaining), String(reset)));
        }
      }
      done(null, payload);
    });
  },
  { name: 'splitshop-rate-limit', dependencies: ['splitshop-auth'] },
);

declare module 'fastify' {
  interface FastifyInstance {
    /** The edge's request counts, for the gateway's fast path: the ones `@fastify/rate-limit` decides on. */
    rateCounts: RateCounts;
  }
}
