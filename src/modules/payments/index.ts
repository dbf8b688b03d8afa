export * from './contract.ts';
export { createPaymentsModule, type PaymentsModuleDeps } from './module.ts';
