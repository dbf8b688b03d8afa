import type { FastifyPluginAsync } from 'fastify';
import type { InternalAuth } from '../../../platform/rpc/identity.ts';
import { rpcRoutes } from '../../../platform/rpc/server.ts';
import { type UsersApi, usersMethods } from '../contract.ts';

/** The users contract served to other Splitshop processes under `/internal/users/`; register it on the edge. */
export function createUsersRpcRoutes(api: UsersApi, auth: InternalAuth): FastifyPluginAsync {
  return rpcRoutes({ module: 'users', api, methods: usersMethods, auth });
}
