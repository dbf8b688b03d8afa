export * from './contract.ts';
export { createNotificationsModule, type NotificationsModuleDeps } from './module.ts';
export type { NotificationSender, Recipient } from './ports.ts';
export type { NotificationsDatabase } from './repository.ts';
