import { createRpcClient, type RpcClient, type RpcClientOptions } from '../../../platform/rpc/client.ts';
import { type UsersApi, usersIdempotentMethods, usersMethods } from '../contract.ts';

/** Where the users instances are, how to sign calls, and the resilience settings of this downstream. */
export type UsersHttpClientOptions = Omit<RpcClientOptions<UsersApi>, 'module' | 'methods' | 'idempotent'>;

/** The users contract of another process, over HTTP: the same answers and the same AppErrors. */
export function createUsersHttpClient(options: UsersHttpClientOptions): RpcClient<UsersApi> {
  return createRpcClient<UsersApi>({
    ...options,
    module: 'users',
    methods: usersMethods,
    idempotent: usersIdempotentMethods,
  });
}
