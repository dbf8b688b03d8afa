export { ordersMigrations } from '../../../migrations/orders/index.ts';
export { createOrdersHttpClient, type OrdersHttpClientOptions } from './adapters/http-client.ts';
export { createOrdersRpcRoutes } from './adapters/http-routes.ts';
export * from './contract.ts';
export { createOrdersModule, type OrdersModuleDeps } from './module.ts';
export { rebuildOrderProjections } from './projection.ts';
export type { OrdersDatabase } from './repository.ts';
