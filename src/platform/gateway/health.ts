import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Redis } from 'ioredis';
import { PROBE } from '../http/health.ts';
import type { UpstreamState, Upstreams } from './upstreams.ts';

const REDIS_TIMEOUT_MS = 1000;

type Check = ({ status: 'up' } | { status: 'down'; error: string }) &
  Partial<UpstreamState> & {
    /** Set on a check the gateway serves without: its being down does not make the gateway unready. */
    readonly required?: false;
    /** What the gateway does without it. */
    readonly fallback?: string;
  };

async function pingRedis(redis: Redis): Promise<Check> {
  try {
    await Promise.race([
      redis.ping(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), REDIS_TIMEOUT_MS).unref()),
    ]);
    return { status: 'up' };
  } catch (err) {
    return { status: 'down', error: err instanceof Error ? err.message : 'failed' };
  }
}

/**
 * The gateway's `/health/live`, and `/health/ready` and `/health`: healthy when every service has an
 * instance that passes its health checks and whose breaker is not open; else 503 naming the failing
 * checks. Each service's check lists its instances, whether each is ejected, whether they all are
 * (`panic`: they take requests all the same) and its breaker state. Redis (if configured) is shown but
 * not required: without it the gateway counts rate limits in its own memory and serves on, so a Redis
 * outage must not make every gateway unready, which would take the shop down to protect a count.
 */
export async function gatewayHealthRoutes(
  app: FastifyInstance,
  options: { readonly upstreams: Upstreams; readonly services: readonly string[]; readonly redis?: Redis },
): Promise<void> {
  const { upstreams, services, redis } = options;
  app.get('/health/live', PROBE, async () => ({ status: 'alive' }));
  const ready = async (_request: unknown, reply: FastifyReply) => {
    const checks: Record<string, Check> = {};
    for (const service of services) {
      const state = upstreams.get(service)!.state();
      checks[service] = state.available
        ? { status: 'up', ...state }
        : { status: 'down', error: 'no instance is available', ...state };
    }
    if (redis !== undefined) {
      const ping = await pingRedis(redis);
      const fallback =
        ping.status === 'down' ? { fallback: 'rate limits are counted in this gateway alone' } : {};
      checks.redis = { ...ping, required: false, ...fallback };
    }
    const healthy = Object.values(checks).every((check) => check.status === 'up' || check.required === false);
    reply.status(healthy ? 200 : 503);
    return { status: healthy ? 'healthy' : 'unhealthy', checks };
  };
  app.get('/health/ready', PROBE, ready);
  app.get('/health', { schema: { hide: true } }, ready);
}
