import { createRpcClient, type RpcClient, type RpcClientOptions } from '../../../platform/rpc/client.ts';
import { type NotificationsApi, notificationsIdempotentMethods, notificationsMethods } from '../contract.ts';

/** Where the notifications instances are, how to sign calls, and the resilience settings of this downstream. */
export type NotificationsHttpClientOptions = Omit<
  RpcClientOptions<NotificationsApi>,
  'module' | 'methods' | 'idempotent'
>;

/** The notifications contract of another process, over HTTP: the same answers and the same AppErrors. */
export function createNotificationsHttpClient(
  options: NotificationsHttpClientOptions,
): RpcClient<NotificationsApi> {
  return createRpcClient<NotificationsApi>({
    ...options,
    module: 'notifications',
    methods: notificationsMethods,
    idempotent: notificationsIdempotentMethods,
  });
}
