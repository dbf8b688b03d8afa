export { type CatalogHttpClientOptions, createCatalogHttpClient } from './adapters/http-client.ts';
export { createCatalogRpcRoutes } from './adapters/http-routes.ts';
export * from './contract.ts';
export { type CatalogModuleDeps, createCatalogModule } from './module.ts';
