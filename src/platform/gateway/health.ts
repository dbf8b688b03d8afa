import type { Redis } from 'ioredis';
import { CheckFailure, type HealthChecks } from '../http/health.ts';
import type { Upstreams } from './upstreams.ts';

/**
 * What the gateway's health routes check. None of it is required: a gateway serves its own requests
 * whatever is down behind it, answering a service that has no instance available with 503 at once, and
 * counting rate limits in its own memory while Redis is away. Were any of them required, one service's
 * outage would make every gateway unready and an orchestrator would take the whole shop out.
 * Each service's check shows its instances, whether each is ejected, whether they all are (`panic`:
 * they take requests all the same) and its breaker state.
 */
export function gatewayChecks(options: {
  readonly upstreams: Upstreams;
  readonly services: readonly string[];
  readonly redis?: Redis;
}): HealthChecks {
  const { upstreams, services, redis } = options;
  const checks: Record<string, HealthChecks[string]> = {};
  for (const service of services) {
    checks[service] = {
      required: false,
      fallback: 'its requests are answered 503 with Retry-After',
      run: async () => {
        const state = upstreams.get(service)!.state();
        if (!state.available) throw new CheckFailure('no instance is available', state);
        return state;
      },
    };
  }
  if (redis !== undefined) {
    checks.redis = {
      required: false,
      fallback: 'rate limits are counted in this gateway alone',
      run: async () => {
        await redis.ping();
      },
    };
  }
  return checks;
}
