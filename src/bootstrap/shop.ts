import type { Config } from '../platform/config.ts';
import { armCrashPoints } from '../platform/faults.ts';
import type { Logger } from '../platform/log.ts';
import { createInternalAuth } from '../platform/rpc/identity.ts';
import { buildGatewayProcess } from './gateway-process.ts';
import { buildModuleProcess } from './module-process.ts';
import type { Shop } from './process.ts';
import { MODULE_NAMES, resolveRole } from './topology.ts';

export { databaseUrl } from './infrastructure.ts';
export type { Shop } from './process.ts';

/**
 * The composition root: reads the topology and builds this process from modules and adapters. The
 * monolith hosts every module behind its edge on the in-memory bus; in a split topology a process is
 * either the gateway or hosts some modules, calling the others over HTTP and sharing events over AMQP.
 * Build and listen are separate so tests can `inject` without a port (fastify's Testing guide).
 */
export async function buildShop(config: Config, log: Logger): Promise<Shop> {
  armCrashPoints(config.crashPoints);
  const role = resolveRole({
    topology: config.topology,
    process: config.process,
    modules: config.modules,
    gateway: config.gateway,
  });
  const hostsAll = MODULE_NAMES.every((m) => role.modules.includes(m));
  if (role.gateway && !hostsAll && role.modules.length > 0) {
    throw new Error(
      'A gateway process hosts every module (the monolith) or none: give the others their own process',
    );
  }
  if (hostsAll) return buildModuleProcess(config, log, role, undefined);
  if (!config.internalSecret) {
    throw new Error('SPLITSHOP_INTERNAL_SECRET is required when the modules run in more than one process');
  }
  const internalAuth = createInternalAuth(config.internalSecret);
  const named = log.child({ process: role.name });
  if (role.gateway) return buildGatewayProcess(config, named, role, internalAuth);
  return buildModuleProcess(config, named, role, internalAuth);
}
