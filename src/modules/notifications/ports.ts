import type { Notification } from './contract.ts';

/** Where a message goes: the contact details the module knows for the user when it sends. */
export interface Recipient {
  readonly user_id: string;
  /** Null while no users event about this user has arrived yet. */
  readonly email: string | null;
  readonly username: string | null;
}

/** Delivers one message on its channel. Rejecting means "not sent": the dispatcher tries again later. */
export interface NotificationSender {
  send(message: { notification: Notification; to: Recipient }): Promise<void>;
}
