import { createRpcClient, type RpcClient, type RpcClientOptions } from '../../../platform/rpc/client.ts';
import { type PaymentsApi, paymentsIdempotentMethods, paymentsMethods } from '../contract.ts';

/** Where the payments instances are, how to sign calls, and the resilience settings of this downstream. */
export type PaymentsHttpClientOptions = Omit<
  RpcClientOptions<PaymentsApi>,
  'module' | 'methods' | 'idempotent'
>;

/** The payments contract of another process, over HTTP: the same answers and the same AppErrors. */
export function createPaymentsHttpClient(options: PaymentsHttpClientOptions): RpcClient<PaymentsApi> {
  return createRpcClient<PaymentsApi>({
    ...options,
    module: 'payments',
    methods: paymentsMethods,
    idempotent: paymentsIdempotentMethods,
  });
}
