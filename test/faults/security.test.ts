import { afterAll, beforeAll, describe, expect } from 'vitest';
import { split } from '../../src/bootstrap/topology.ts';
import { defineCacheCases } from '../support/security/cache.ts';
import { JWT } from '../support/security/forge-jwt.ts';
import { defineFunctionCases } from '../support/security/functions.ts';
import { defineHeaderCases } from '../support/security/headers.ts';
import { defineLoginLimitCases, LOGIN_LIMITS } from '../support/security/limits.ts';
import { defineObjectCases } from '../support/security/objects.ts';
import { definePathCases } from '../support/security/paths.ts';
import { defineProtocolCases } from '../support/security/protocol.ts';
import { defineSessionCases } from '../support/security/sessions.ts';
import { defineTokenCases } from '../support/security/tokens.ts';
import { buildWorld, createTarget, type Target } from '../support/security/world.ts';
import { needs } from '../support/services.ts';
import { type ShopHandle, startMonolith } from '../support/shop.ts';
import { startSplit } from '../support/split.ts';

/** Settings both topologies share, so a case means the same in each. */
const ENV = {
  JWT_ISSUER: JWT.issuer,
  JWT_AUDIENCE: JWT.audience,
  JWT_CLOCK_SKEW_SECONDS: String(JWT.skewSeconds),
  ...Object.fromEntries(Object.entries(LOGIN_LIMITS).map(([name, value]) => [name, String(value)])),
  // Generous and long, so only the cases that count requests ever meet the limit's edge.
  RATE_LIMIT_MAX: '100000',
  RATE_LIMIT_WINDOW_SECONDS: '3600',
};

/** Split with two gateways and two users instances, so every limit must hold across instances. */
const twoGateways = {
  ...split,
  processes: {
    ...split.processes,
    gateway: { ...split.processes.gateway, instances: 2 },
    users: { ...split.processes.users, instances: 2 },
  },
};

type Start = () => Promise<{ handle: ShopHandle; gateways: string[]; catalogUrl?: string }>;

const topologies: Array<{ name: Target['topology']; services: boolean; start: Start }> = [
  {
    name: 'monolith',
    services: true,
    start: async () => {
      const handle = await startMonolith(ENV);
      return { handle, gateways: [handle.baseUrl] };
    },
  },
  {
    name: 'split',
    services: await needs('postgres', 'rabbitmq', 'redis'),
    start: async () => {
      const handle = await startSplit(ENV, twoGateways);
      const url = (prefix: string) =>
        handle.topology.processes.filter((p) => p.name.split('#')[0] === prefix).map((p) => p.url);
      return {
        handle,
        gateways: url('gateway'),
        usersInstances: url('users').length,
        catalogUrl: url('catalog')[0]!,
      };
    },
  },
];

/**
 * The security suite of issue 4 against both topologies: forged tokens, object- and function-level
 * authorization, client-sent identity, internal paths, failed-login limits and the response cache.
 * Each test counts its cases and publishes them as `security (<topology>)` once none got through.
 */
for (const topology of topologies) {
  describe.skipIf(!topology.services)(`security (${topology.name})`, { timeout: 120_000 }, () => {
    let target: Target | undefined;

    beforeAll(async () => {
      const { handle, gateways, catalogUrl } = await topology.start();
      try {
        // The split cases spread over two gateways, or they would prove nothing across instances.
        expect(gateways).toHaveLength(topology.name === 'split' ? 2 : 1);
        const world = await buildWorld(gateways[0]!, handle.adminPassword);
        target = createTarget({
          topology: topology.name,
          handle,
          gateways,
          world,
          ...(catalogUrl ? { catalogUrl } : {}),
        });
      } catch (error) {
        await handle.stop();
        throw error;
      }
    }, 180_000);

    afterAll(async () => {
      await target?.handle.stop();
    }, 60_000);

    const current = (): Target => {
      if (!target) throw new Error('the shop did not start');
      return target;
    };

    defineFunctionCases(current);
    defineTokenCases(current);
    defineSessionCases(current);
    defineObjectCases(current);
    defineHeaderCases(current);
    definePathCases(current);
    defineProtocolCases(current);
    defineCacheCases(current);
    defineLoginLimitCases(current);
  });
}
