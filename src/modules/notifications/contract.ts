import type { CallContext } from '../../platform/context.ts';
import type { MethodNames } from '../../platform/in-process.ts';
import type { Page, PageRequest } from '../../platform/pagination.ts';

/** A message to a user, created only from events. */
export interface Notification {
  readonly id: string;
  readonly user_id: string;
  readonly channel: 'email';
  readonly subject: string;
  readonly body: string;
  readonly created_at: string;
}

/** The notifications module: it listens to users and orders and tells people what happened. */
export interface NotificationsApi {
  /** The actor's notifications, newest first. */
  listNotifications(ctx: CallContext, page: PageRequest): Promise<Page<Notification>>;
}

/** The notifications module publishes no events. */
export type NotificationsEvents = Record<never, never>;

/** Every method of NotificationsApi, in one list that every adapter serves. */
export const notificationsMethods = ['listNotifications'] as const satisfies MethodNames<NotificationsApi>;

/** Methods safe to retry after a transport failure: reads, and writes made idempotent by a key in their input. */
export const notificationsIdempotentMethods = [
  'listNotifications',
] as const satisfies MethodNames<NotificationsApi>;
