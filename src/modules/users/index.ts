export { createUsersHttpClient, type UsersHttpClientOptions } from './adapters/http-client.ts';
export { createUsersRpcRoutes } from './adapters/http-routes.ts';
export * from './contract.ts';
export { createUsersModule, type UsersModuleDeps } from './module.ts';
export type { UsersDatabase } from './repository.ts';
