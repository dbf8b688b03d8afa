export * from './contract.ts';
export { type CatalogModuleDeps, createCatalogModule } from './module.ts';
