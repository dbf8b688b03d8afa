import { createRpcClient, type RpcClient, type RpcClientOptions } from '../../../platform/rpc/client.ts';
import { type CatalogApi, catalogIdempotentMethods, catalogMethods } from '../contract.ts';

/** Where the catalog instances are, how to sign calls, and the resilience settings of this downstream. */
export type CatalogHttpClientOptions = Omit<
  RpcClientOptions<CatalogApi>,
  'module' | 'methods' | 'idempotent'
>;

/** The catalog contract of another process, over HTTP: the same answers and the same AppErrors. */
export function createCatalogHttpClient(options: CatalogHttpClientOptions): RpcClient<CatalogApi> {
  return createRpcClient<CatalogApi>({
    ...options,
    module: 'catalog',
    methods: catalogMethods,
    idempotent: catalogIdempotentMethods,
  });
}
