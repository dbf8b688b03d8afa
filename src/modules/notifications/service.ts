import type { Kysely } from 'kysely';
import type { CallContext } from '../../platform/context.ts';
import { platformErrors } from '../../platform/errors.ts';
import { decodeCursor, MAX_LIMIT, type PageRequest, toPage } from '../../platform/pagination.ts';
import type { NotificationsApi } from './contract.ts';
import { listForUser, type NotificationsDatabase, toNotification } from './repository.ts';

/** The read side of the module; notifications themselves are written only by the event handlers. */
export function createNotificationsService(deps: { db: Kysely<NotificationsDatabase> }): NotificationsApi {
  const { db } = deps;
  return {
    async listNotifications(ctx: CallContext, page: PageRequest) {
      if (!ctx.actor) throw platformErrors.UNAUTHORIZED();
      const { limit } = page;
      // Checked here as well as at the edge, since the contract is also served over other transports.
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
        const message = `must be a whole number from 1 to ${MAX_LIMIT}`;
        throw platformErrors.VALIDATION_FAILED(`limit ${message}`, { errors: [{ path: '/limit', message }] });
      }
      const before = decodeCursor(page.cursor);
      const rows = await listForUser(db, ctx.actor.id, { limit: limit + 1, before });
      return toPage(rows, limit, (row) => row.id, toNotification);
    },
  };
}
