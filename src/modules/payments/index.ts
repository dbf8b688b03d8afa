export { createPaymentsHttpClient, type PaymentsHttpClientOptions } from './adapters/http-client.ts';
export { createPaymentsRpcRoutes } from './adapters/http-routes.ts';
export * from './contract.ts';
export { createPaymentsModule, type PaymentsModuleDeps } from './module.ts';
