import type { Generated, Kysely, Selectable, Transaction } from 'kysely';
import type { EventTables } from '../../platform/events/tables.ts';
import type { Notification } from './contract.ts';

export interface NotificationsTable {
  id: string;
  user_id: string;
  /** The event this notification was made from: unique, so an event can never notify twice. */
  event_id: string;
  channel: 'email';
  subject: string;
  body: string;
  created_at: string;
  sent_at: string | null;
  /** Sends started, counted before each send so a crash mid-send counts too. */
  attempts: Generated<number>;
  /** When the dispatcher may try the next send: the backoff after a failed attempt. */
  next_attempt_at: string;
}

/** The local projection of users' contact details, kept from users events. */
export interface ContactsTable {
  user_id: string;
  username: string;
  email: string;
}

export interface NotificationsTables {
  notifications: NotificationsTable;
  contacts: ContactsTable;
}

export type NotificationsDatabase = NotificationsTables & EventTables;

export type NotificationRow = Selectable<NotificationsTable>;

/** The contract's view of a row. */
export function toNotification(row: NotificationRow): Notification {
  return {
    id: row.id,
    user_id: row.user_id,
    channel: row.channel,
    subject: row.subject,
    body: row.body,
    created_at: row.created_at,
  };
}

type Executor = Kysely<NotificationsDatabase> | Transaction<NotificationsDatabase>;

/** A notification ready to store; its send is due at once. */
export interface NewNotification {
  readonly id: string;
  readonly user_id: string;
  readonly event_id: string;
  readonly subject: string;
  readonly body: string;
  readonly created_at: string;
}

/** An unsent notification with the contact details known for its user, if any. */
export interface DueNotification {
  readonly row: NotificationRow;
  readonly username: string | null;
  readonly email: string | null;
}

export async function upsertContact(
  db: Executor,
  contact: { user_id: string; username: string; email: string },
): Promise<void> {
  await db
    .insertInto('contacts')
    .values({ user_id: contact.user_id, username: contact.username, email: contact.email })
    .onConflict((oc) =>
      oc.column('user_id').doUpdateSet({ username: contact.username, email: contact.email }),
    )
    .execute();
}

/** Stores a notification unless one was already made from the same event. */
export async function insertNotification(db: Executor, notification: NewNotification): Promise<void> {
  await db
    .insertInto('notifications')
    .values({ ...notification, channel: 'email', next_attempt_at: notification.created_at })
    .onConflict((oc) => oc.column('event_id').doNothing())
    .execute();
}

/** A user's notifications, newest first, after the id `before` when given; `limit` rows at most. */
export async function listForUser(
  db: Executor,
  userId: string,
  options: { limit: number; before: string | undefined },
): Promise<NotificationRow[]> {
  let query = db.selectFrom('notifications').selectAll().where('user_id', '=', userId);
  if (options.before !== undefined) query = query.where('id', '<', options.before);
  return query.orderBy('id', 'desc').limit(options.limit).execute();
}

/** Unsent notifications whose next attempt is due and that have attempts left, oldest first. */
export async function findDue(
  db: Executor,
  options: { now: string; maxAttempts: number; limit: number },
): Promise<DueNotification[]> {
  const rows = await db
    .selectFrom('notifications as n')
    .leftJoin('contacts as c', 'c.user_id', 'n.user_id')
    .selectAll('n')
    .select(['c.username as contact_username', 'c.email as contact_email'])
    .where('n.sent_at', 'is', null)
    .where('n.next_attempt_at', '<=', options.now)
    .where('n.attempts', '<', options.maxAttempts)
    .orderBy('n.id')
    .limit(options.limit)
    .execute();
  return rows.map(({ contact_username, contact_email, ...row }) => ({
    row,
    username: contact_username,
    email: contact_email,
  }));
}

/**
 * Records that send number `attempts` is starting and when the next one may start if this one fails.
 * Answers false when the row was sent or another dispatcher started this attempt meanwhile: the count
 * is compared and set in one statement, so two dispatchers on one database never both send it.
 */
export async function recordAttempt(
  db: Executor,
  id: string,
  attempts: number,
  nextAttemptAt: string,
): Promise<boolean> {
  const result = await db
    .updateTable('notifications')
    .set({ attempts, next_attempt_at: nextAttemptAt })
    .where('id', '=', id)
    .where('sent_at', 'is', null)
    .where('attempts', '=', attempts - 1)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function markSent(db: Executor, id: string, sentAt: string): Promise<void> {
  await db.updateTable('notifications').set({ sent_at: sentAt }).where('id', '=', id).execute();
}
