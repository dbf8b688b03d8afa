import type { FastifyPluginAsync } from 'fastify';
import type { InternalAuth } from '../../../platform/rpc/identity.ts';
import { rpcRoutes } from '../../../platform/rpc/server.ts';
import { type PaymentsApi, paymentsMethods } from '../contract.ts';

/** The payments contract served to other Splitshop processes under `/internal/payments/`; register it on the edge. */
export function createPaymentsRpcRoutes(api: PaymentsApi, auth: InternalAuth): FastifyPluginAsync {
  return rpcRoutes({ module: 'payments', api, methods: paymentsMethods, auth });
}
