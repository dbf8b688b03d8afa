import type { FastifyPluginAsync } from 'fastify';
import type { InternalAuth } from '../../../platform/rpc/identity.ts';
import { rpcRoutes } from '../../../platform/rpc/server.ts';
import { type NotificationsApi, notificationsMethods } from '../contract.ts';

/** The notifications contract served to other Splitshop processes under `/internal/notifications/`; register it on the edge. */
export function createNotificationsRpcRoutes(api: NotificationsApi, auth: InternalAuth): FastifyPluginAsync {
  return rpcRoutes({ module: 'notifications', api, methods: notificationsMethods, auth });
}
