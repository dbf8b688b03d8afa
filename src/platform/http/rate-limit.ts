import rateLimit, { type RateLimitPluginOptions } from '@fastify/rate-limit';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import { platformErrors } from '../errors.ts';

export interface RateLimitOptions {
  readonly max: number;
  readonly windowSeconds: number;
  /**
   * Counts in Redis, so that every gateway instance draws on one budget per user or address. The edge
   * opens its own connection from this client's settings, made to fail at once rather than queue while
   * Redis is unreachable. Then the shared limit fails open and a limit counted in this process's memory
   * still applies, so a Redis outage neither takes the shop down nor removes all protection.
   */
  readonly redis?: Redis;
}

/** How long a count may take in Redis before the request goes on without it. */
const REDIS_COMMAND_TIMEOUT_MS = 250;

/**
 * Limits requests per signed-in user, else per client address. Answers 429 with `Retry-After`, and
 * writes `RateLimit-Policy` / `RateLimit` (draft-ietf-httpapi-ratelimit-headers) on every response.
 * Runs after token verification, so a user's limit follows them across addresses.
 */
export const rateLimitPlugin = fp(
  async (app, options: RateLimitOptions) => {
    const common = {
      global: true,
      max: options.max,
      timeWindow: options.windowSeconds * 1000,
      hook: 'onRequest',
      enableDraftSpec: true,
      keyGenerator: (request) => (request.actor ? `user:${request.actor.id}` : `addr:${request.ip}`),
      allowList: (request) => request.url.startsWith('/health'),
      errorResponseBuilder: (_request, context) =>
        Object.assign(platformErrors.RATE_LIMITED(`Try again in ${Math.ceil(context.ttl / 1000)} s`), {
          statusCode: 429,
        }),
    } satisfies RateLimitPluginOptions;
    let sharedCountFailed = () => false;
    if (options.redis === undefined) {
      await app.register(rateLimit, common);
    } else {
      const redis = options.redis.duplicate({
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
        lazyConnect: false,
        // Every count asked for in one turn of the event loop goes to Redis in one write, not one each.
        enableAutoPipelining: true,
      });
      // An unreachable Redis is expected here (the limit fails open); ioredis would log each attempt.
      redis.on('error', () => undefined);
      app.addHook('onClose', async () => {
        redis.disconnect();
      });
      sharedCountFailed = () => redis.status !== 'ready';
      // The local limit runs first and speaks only when it refuses, so the shared one writes the headers.
      await app.register(rateLimit, {
        ...common,
        addHeadersOnExceeding: {
          'ratelimit-limit': false,
          'ratelimit-remaining': false,
          'ratelimit-reset': false,
        },
      });
      await app.register(rateLimit, {
        ...common,
        redis,
        nameSpace: 'splitshop-rate-limit:',
        skipOnError: true,
      });
    }
    const policy = `"default";q=${options.max};w=${options.windowSeconds}`;
    // A callback hook, not an async one: it runs on every response and has nothing to wait for.
    app.addHook('onSend', (_request, reply, payload, done) => {
      // Without the shared count the numbers would claim a full budget: better say nothing.
      if (reply.statusCode !== 429 && sharedCountFailed()) {
        reply.removeHeader('ratelimit-limit').removeHeader('ratelimit-remaining');
        reply.removeHeader('ratelimit-reset');
      }
      if (reply.hasHeader('ratelimit-limit')) {
        reply.header('ratelimit-policy', policy);
        reply.header(
          'ratelimit',
          `"default";r=${reply.getHeader('ratelimit-remaining') ?? 0};t=${reply.getHeader('ratelimit-reset') ?? 0}`,
        );
      }
      done(null, payload);
    });
  },
  { name: 'splitshop-rate-limit', dependencies: ['splitshop-auth'] },
);
