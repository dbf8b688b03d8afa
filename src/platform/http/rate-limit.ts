import rateLimit from '@fastify/rate-limit';
import fp from 'fastify-plugin';
import { platformErrors } from '../errors.ts';

export interface RateLimitOptions {
  readonly max: number;
  readonly windowSeconds: number;
}

/**
 * Limits requests per signed-in user, else per client address. Answers 429 with `Retry-After`, and
 * writes `RateLimit-Policy` / `RateLimit` (draft-ietf-httpapi-ratelimit-headers) on every response.
 * Runs after token verification, so a user's limit follows them across addresses.
 */
export const rateLimitPlugin = fp(
  async (app, options: RateLimitOptions) => {
    await app.register(rateLimit, {
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
    });
    app.addHook('onSend', async (_request, reply) => {
      const limit = reply.getHeader('ratelimit-limit');
      if (limit === undefined) return;
      reply.header('ratelimit-policy', `"default";q=${limit};w=${options.windowSeconds}`);
      reply.header(
        'ratelimit',
        `"default";r=${reply.getHeader('ratelimit-remaining') ?? 0};t=${reply.getHeader('ratelimit-reset') ?? 0}`,
      );
    });
  },
  { name: 'splitshop-rate-limit', dependencies: ['splitshop-auth'] },
);
