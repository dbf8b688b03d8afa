import type { FastifyPluginAsync } from 'fastify';
import type { InternalAuth } from '../../../platform/rpc/identity.ts';
import { rpcRoutes } from '../../../platform/rpc/server.ts';
import { type CatalogApi, catalogMethods } from '../contract.ts';

/** The catalog contract served to other Splitshop processes under `/internal/catalog/`; register it on the edge. */
export function createCatalogRpcRoutes(api: CatalogApi, auth: InternalAuth): FastifyPluginAsync {
  return rpcRoutes({ module: 'catalog', api, methods: catalogMethods, auth });
}
