import type { FastifyPluginAsync } from 'fastify';
import pino from 'pino';
import { staticInstances } from '../../src/platform/discovery/instances.ts';
import { createEdge } from '../../src/platform/http/server.ts';
import { createInternalAuth } from '../../src/platform/rpc/identity.ts';

/** The internal credential every test process and its clients share. */
export const testInternalAuth = createInternalAuth('contract-internal-secret-0123456789abcdef');

const silent = pino({ level: 'silent' });

/** A module process in miniature: the production edge on an ephemeral port, serving internal routes. */
export interface RpcHost {
  readonly url: string;
  close(): Promise<void>;
}

/** Starts an edge (so problem documents render as in production) that serves `plugins`. */
export async function hostRpc(...plugins: FastifyPluginAsync[]): Promise<RpcHost> {
  const app = await createEdge({
    log: silent,
    bodyLimitBytes: 1_048_576,
    requestTimeoutMs: 30_000,
    auth: {
      secret: 'contract-public-jwt-secret-0123456789abcdef',
      ttlSeconds: 900,
      issuer: 'splitshop',
      audience: 'splitshop-api',
      clockSkewSeconds: 0,
    },
    rateLimit: { max: 100, windowSeconds: 60 },
  });
  for (const plugin of plugins) await app.register(plugin);
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url, close: () => app.close() };
}

/**
 * What a module's HTTP client needs to reach `host`. The timeout is generous because suites run
 * side by side on one machine; the resilience itself is tested in `src/platform/rpc/rpc.test.ts`.
 */
export function clientOptionsFor(host: RpcHost) {
  return {
    instances: staticInstances([host.url]),
    auth: testInternalAuth,
    log: silent,
    timeoutMs: 20_000,
  };
}
