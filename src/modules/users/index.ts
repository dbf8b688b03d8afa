export * from './contract.ts';
export { createUsersModule, type UsersModuleDeps } from './module.ts';
export type { UsersDatabase } from './repository.ts';
