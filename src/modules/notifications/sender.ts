import type { Kysely } from 'kysely';
import type { Logger } from '../../platform/log.ts';
import { backoffMs, createDrainWorker, type DrainWorker } from '../../platform/worker.ts';
import type { NotificationSender } from './ports.ts';
import {
  type DueNotification,
  findDue,
  markSent,
  type NotificationsDatabase,
  recordAttempt,
  toNotification,
} from './repository.ts';

/** The default sender: one info line per message, without the body or the address. */
export function createLogSender(log: Logger): NotificationSender {
  return {
    async send({ notification, to }) {
      log.info(
        {
          notification_id: notification.id,
          user_id: notification.user_id,
          channel: notification.channel,
          subject: notification.subject,
          addressed: to.email !== null,
        },
        'notification sent',
      );
    },
  };
}

export interface DispatcherOptions {
  readonly db: Kysely<NotificationsDatabase>;
  readonly sender: NotificationSender;
  readonly log: Logger;
  /** How often to look for due notifications when nothing wakes the dispatcher. */
  readonly intervalMs?: number;
  /** Sends tried per notification before it is given up. */
  readonly maxAttempts?: number;
  readonly baseBackoffMs?: number;
  readonly maxBackoffMs?: number;
  readonly batchSize?: number;
}

export interface Dispatcher {
  start(): void;
  /** Looks for due notifications now rather than at the next tick. */
  notify(): void;
  /** Resolves once the round in flight, if any, has finished; for tests. */
  idle(): Promise<void>;
  /** Lets the send in flight finish, then stops. */
  stop(): Promise<void>;
}

/**
 * Sends stored notifications outside any handler's transaction and marks them sent. The attempt is
 * recorded before the send, with the time of the next one, so a send that fails or dies with the process
 * is tried again after a backoff, and at most `maxAttempts` times.
 */
export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const { db, sender, log } = options;
  const intervalMs = options.intervalMs ?? 2000;
  const maxAttempts = options.maxAttempts ?? 8;
  const baseBackoffMs = options.baseBackoffMs ?? 1000;
  const maxBackoffMs = options.maxBackoffMs ?? 5 * 60_000;
  const batchSize = options.batchSize ?? 50;
  // Set by stop: the batch in flight sends nothing more.
  let stopped = true;

  async function dispatchOne({ row, username, email }: DueNotification): Promise<void> {
    const attempts = row.attempts + 1;
    const retryAt = new Date(
      Date.now() + backoffMs(attempts, { baseMs: baseBackoffMs, maxMs: maxBackoffMs }),
    ).toISOString();
    if (!(await recordAttempt(db, row.id, attempts, retryAt))) return;
    try {
      await sender.send({ notification: toNotification(row), to: { user_id: row.user_id, email, username } });
    } catch (err) {
      const last = attempts >= maxAttempts;
      log[last ? 'error' : 'warn'](
        { notification_id: row.id, attempts, err },
        last ? 'notification not sent; giving up' : 'notification not sent; will retry',
      );
      return;
    }
    await markSent(db, row.id, new Date().toISOString());
  }

  async function dispatchBatch(): Promise<number> {
    const due = await findDue(db, { now: new Date().toISOString(), maxAttempts, limit: batchSize });
    for (const notification of due) {
      if (stopped) break;
      await dispatchOne(notification);
    }
    return due.length;
  }

  const worker: DrainWorker = createDrainWorker({
    batch: dispatchBatch,
    batchSize,
    intervalMs,
    log,
    failure: 'notification dispatch failed; will retry',
  });

  return {
    start() {
      stopped = false;
      worker.start();
    },
    notify: worker.notify,
    idle: worker.idle,
    stop() {
      stopped = true;
      return worker.stop();
    },
  };
}
