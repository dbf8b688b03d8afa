import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import Type from 'typebox';
import { callContext } from '../../platform/http/context.ts';
import { DEFAULT_LIMIT, MAX_LIMIT } from '../../platform/pagination.ts';
import type { NotificationsApi } from './contract.ts';

const NotificationDto = Type.Object({
  id: Type.String(),
  channel: Type.Literal('email'),
  subject: Type.String(),
  body: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
});

const ListQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT }),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
});

/** The part of the public API the notifications module owns: `GET /notifications`. */
export function createNotificationsRoutes(
  api: Pick<NotificationsApi, 'listNotifications'>,
): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
    app.get(
      '/notifications',
      {
        onRequest: app.requireUser,
        schema: {
          tags: ['notifications'],
          summary: "The caller's notifications, newest first",
          security: [{ bearer: [] }],
          querystring: ListQuery,
          response: {
            200: Type.Object({
              items: Type.Array(NotificationDto),
              next_cursor: Type.Union([Type.String(), Type.Null()]),
            }),
          },
        },
      },
      async (request) => {
        const page = await api.listNotifications(callContext(request), {
          limit: request.query.limit,
          cursor: request.query.cursor,
        });
        // The caller is the owner, so the user id adds nothing to the public shape.
        return {
          items: page.items.map(({ id, channel, subject, body, created_at }) => ({
            id,
            channel,
            subject,
            body,
            created_at,
          })),
          next_cursor: page.next_cursor,
        };
      },
    );
  };
}
