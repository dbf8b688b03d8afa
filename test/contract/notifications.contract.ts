import { describe, expect, it } from 'vitest';
import type { NotificationsApi } from '../../src/modules/notifications/index.ts';
import type { OrdersEvents } from '../../src/modules/orders/index.ts';
import type { UsersEvents } from '../../src/modules/users/index.ts';
import type { CallContext } from '../../src/platform/context.ts';
import { hasCode } from '../../src/platform/errors.ts';
import { createEnvelope, type EventEnvelope } from '../../src/platform/events/envelope.ts';
import type { PageRequest } from '../../src/platform/pagination.ts';

export interface NotificationsHarness {
  readonly api: NotificationsApi;
  /** Hands an event to the module as its bus subscription would; resolves once it is handled. */
  deliver(envelope: EventEnvelope): Promise<void>;
  close(): Promise<void>;
}

type Consumed = Pick<UsersEvents, 'users.user_registered'> &
  Pick<OrdersEvents, 'orders.order_confirmed' | 'orders.order_cancelled' | 'orders.order_shipped'>;

function envelope<K extends keyof Consumed & string>(type: K, data: Consumed[K]): EventEnvelope {
  return createEnvelope(type.slice(0, type.indexOf('.')), type, data);
}

const as = (id: string): CallContext => ({ requestId: `req-${id}`, actor: { id, role: 'customer' } });

/** Every page of the actor's notifications, following `next_cursor`. */
async function listAll(api: NotificationsApi, ctx: CallContext, limit: number) {
  const pages = [];
  let page: PageRequest = { limit };
  for (;;) {
    const result = await api.listNotifications(ctx, page);
    pages.push(result);
    if (result.next_cursor === null) return pages;
    page = { limit, cursor: result.next_cursor };
  }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

export function defineNotificationsContract(adapterName: string, setup: () => Promise<NotificationsHarness>) {
  describe(`notifications contract (${adapterName})`, () => {
    async function withHarness(test: (harness: NotificationsHarness) => Promise<void>): Promise<void> {
      const harness = await setup();
      try {
        await test(harness);
      } finally {
        await harness.close();
      }
    }

    const shipped = (user_id: string, order_id: string) =>
      envelope('orders.order_shipped', { order_id, user_id });

    it('lists a notification for every notifying event, in the Notification shape', () =>
      withHarness(async ({ api, deliver }) => {
        await deliver(envelope('users.user_registered', { user_id: 'ua', username: 'ada', email: 'a@x.io' }));
        await deliver(
          envelope('orders.order_confirmed', {
            order_id: 'o1',
            user_id: 'ua',
            total_minor: 1299,
            currency: 'USD',
            items: [{ product_id: 'p1', quantity: 1, unit_price_minor: 1299 }],
          }),
        );
        await deliver(
          envelope('orders.order_cancelled', { order_id: 'o1', user_id: 'ua', reason: 'CANCELLED_BY_USER' }),
        );
        await deliver(shipped('ua', 'o2'));
        const page = await api.listNotifications(as('ua'), { limit: 20 });
        expect(page.next_cursor).toBeNull();
        expect(page.items).toHaveLength(4);
        for (const n of page.items) {
          expect(n).toEqual({
            id: expect.any(String),
            user_id: 'ua',
            channel: 'email',
            subject: expect.any(String),
            body: expect.any(String),
            created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/),
          });
        }
      }));

    it('adds no second notification when an event is delivered again', () =>
      withHarness(async ({ api, deliver }) => {
        const event = shipped('ua', 'o1');
        await deliver(event);
        await deliver(event);
        const page = await api.listNotifications(as('ua'), { limit: 20 });
        expect(page.items).toHaveLength(1);
      }));

    it("never shows a user another user's notifications", () =>
      withHarness(async ({ api, deliver }) => {
        await deliver(shipped('ua', 'oa1'));
        await deliver(shipped('ub', 'ob1'));
        await deliver(shipped('ua', 'oa2'));
        const a = await api.listNotifications(as('ua'), { limit: 20 });
        const b = await api.listNotifications(as('ub'), { limit: 20 });
        expect(a.items.map((n) => n.user_id)).toEqual(['ua', 'ua']);
        expect(b.items.map((n) => n.user_id)).toEqual(['ub']);
        const ids = new Set(a.items.map((n) => n.id));
        expect(b.items.some((n) => ids.has(n.id))).toBe(false);
        const admin = await api.listNotifications(
          { requestId: 'r', actor: { id: 'admin', role: 'admin' } },
          { limit: 20 },
        );
        expect(admin.items).toEqual([]);
      }));

    it('lists newest first and pages through every notification exactly once', () =>
      withHarness(async ({ api, deliver }) => {
        const orders = ['o1', 'o2', 'o3', 'o4', 'o5'];
        for (const order of orders) await deliver(shipped('ua', order));
        const pages = await listAll(api, as('ua'), 2);
        expect(pages.map((p) => p.items.length)).toEqual([2, 2, 1]);
        const items = pages.flatMap((p) => p.items);
        expect(new Set(items.map((n) => n.id)).size).toBe(5);
        // Each message names its order: the last delivered comes first.
        expect(items.map((n) => orders.find((o) => n.subject.includes(o)))).toEqual([...orders].reverse());
        for (let i = 1; i < items.length; i++) {
          expect(items[i - 1]!.created_at >= items[i]!.created_at).toBe(true);
        }
      }));

    it('answers an empty page to a user with no notifications', () =>
      withHarness(async ({ api }) => {
        expect(await api.listNotifications(as('nobody'), { limit: 20 })).toEqual({
          items: [],
          next_cursor: null,
        });
      }));

    it('raises UNAUTHORIZED without an actor', () =>
      withHarness(async ({ api, deliver }) => {
        await deliver(shipped('ua', 'o1'));
        const error = await rejection(api.listNotifications({ requestId: 'anon' }, { limit: 20 }));
        expect(hasCode(error, 'UNAUTHORIZED')).toBe(true);
      }));

    it('raises VALIDATION_FAILED for a limit outside 1 to 100', () =>
      withHarness(async ({ api }) => {
        for (const limit of [0, 101, 1.5]) {
          const error = await rejection(api.listNotifications(as('ua'), { limit }));
          expect(hasCode(error, 'VALIDATION_FAILED')).toBe(true);
        }
      }));

    it('raises INVALID_CURSOR for a cursor it did not give', () =>
      withHarness(async ({ api }) => {
        const error = await rejection(api.listNotifications(as('ua'), { limit: 20, cursor: 'bm90LWFuLWlk' }));
        expect(hasCode(error, 'INVALID_CURSOR')).toBe(true);
      }));
  });
}
