export {
  createNotificationsHttpClient,
  type NotificationsHttpClientOptions,
} from './adapters/http-client.ts';
export { createNotificationsRpcRoutes } from './adapters/http-routes.ts';
export * from './contract.ts';
export { createNotificationsModule, type NotificationsModuleDeps } from './module.ts';
export type { NotificationSender, Recipient } from './ports.ts';
export type { NotificationsDatabase } from './repository.ts';
