import type { FastifyPluginAsync } from 'fastify';
import type { InternalAuth } from '../../../platform/rpc/identity.ts';
import { rpcRoutes } from '../../../platform/rpc/server.ts';
import { type OrdersApi, ordersMethods } from '../contract.ts';

/** The orders contract served to other Splitshop processes under `/internal/orders/`; register it on the edge. */
export function createOrdersRpcRoutes(api: OrdersApi, auth: InternalAuth): FastifyPluginAsync {
  return rpcRoutes({ module: 'orders', api, methods: ordersMethods, auth });
}
