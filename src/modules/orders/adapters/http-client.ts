import { createRpcClient, type RpcClient, type RpcClientOptions } from '../../../platform/rpc/client.ts';
import { type OrdersApi, ordersIdempotentMethods, ordersMethods } from '../contract.ts';

/** Where the orders instances are, how to sign calls, and the resilience settings of this downstream. */
export type OrdersHttpClientOptions = Omit<RpcClientOptions<OrdersApi>, 'module' | 'methods' | 'idempotent'>;

/** The orders contract of another process, over HTTP: the same answers and the same AppErrors. */
export function createOrdersHttpClient(options: OrdersHttpClientOptions): RpcClient<OrdersApi> {
  return createRpcClient<OrdersApi>({
    ...options,
    module: 'orders',
    methods: ordersMethods,
    idempotent: ordersIdempotentMethods,
  });
}
