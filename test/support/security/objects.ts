import { describe, expect, it } from 'vitest';
import { createClient, type NotificationDto, type OrderDto, type PageDto, register } from '../http-client.ts';
import type { RawResponse } from './raw-http.ts';
import { VERSIONS } from './routes.ts';
import { type Customer, createTally, expectWorldIntact, isProblem, type Target } from './world.ts';

interface ObjectCase {
  readonly what: string;
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
  refused(res: RawResponse): boolean;
}

const itemsOf = <T>(res: RawResponse) => (res.body as PageDto<T>).items ?? [];

/** What `attacker` tries on `victim`'s user, orders, payments and notifications; cursors are the victim's. */
function objectCases(
  attacker: Customer,
  victim: Customer,
  cursors: { orders: string; notifications: string },
): ObjectCase[] {
  const [order, cancelTarget] = victim.orders;
  const id = victim.user.id;
  const userNotFound = (res: RawResponse) => isProblem(res, 404, 'USER_NOT_FOUND');
  const orderNotFound = (res: RawResponse) => isProblem(res, 404, 'ORDER_NOT_FOUND');
  const forbidden = (res: RawResponse) => isProblem(res, 403, 'FORBIDDEN');
  const own = (res: RawResponse) =>
    res.status === 400 ||
    (res.status === 200 && itemsOf<OrderDto>(res).every((o) => o.user_id === attacker.user.id));
  return [
    { what: 'read the user', method: 'GET', path: `/users/${id}`, refused: userNotFound },
    {
      what: 'change the email',
      method: 'PATCH',
      path: `/users/${id}`,
      body: { email: `t${id}@evil.test` },
      refused: userNotFound,
    },
    {
      what: 'change the password',
      method: 'PATCH',
      path: `/users/${id}`,
      body: { password: 'taken-over-1' },
      refused: userNotFound,
    },
    {
      what: 'make the user an admin',
      method: 'PATCH',
      path: `/users/${id}`,
      body: { role: 'admin' },
      refused: (res) => userNotFound(res) || forbidden(res),
    },
    { what: 'read the order', method: 'GET', path: `/orders/${order.id}`, refused: orderNotFound },
    { what: 'read its events', method: 'GET', path: `/orders/${order.id}/events`, refused: orderNotFound },
    {
      what: 'cancel the order',
      method: 'POST',
      path: `/orders/${cancelTarget.id}/cancel`,
      refused: orderNotFound,
    },
    {
      what: 'read its payments',
      method: 'GET',
      path: `/payments?order_id=${order.id}`,
      refused: (res) =>
        orderNotFound(res) || (res.status === 200 && Array.isArray(res.body) && res.body.length === 0),
    },
    { what: 'list the orders', method: 'GET', path: `/orders?user_id=${id}`, refused: forbidden },
    {
      what: 'place an order as the user',
      method: 'POST',
      path: '/orders',
      body: { ...(victim.idempotency.body as object), user_id: id },
      refused: forbidden,
    },
    {
      what: "page with the user's order cursor",
      method: 'GET',
      path: `/orders?limit=100&cursor=${cursors.orders}`,
      refused: own,
    },
    {
      what: "page with the user's notification cursor",
      method: 'GET',
      path: `/notifications?limit=100&cursor=${cursors.notifications}`,
      refused: (res) =>
        res.status === 400 ||
        (res.status === 200 &&
          !itemsOf<NotificationDto>(res).some((n) => victim.notificationIds.includes(n.id))),
    },
  ];
}

/** Other spellings of the victim's order id: none may reach it. */
function idSpellings(victim: Customer): string[] {
  const id = victim.orders[0].id;
  const hex = id.charCodeAt(0).toString(16).toUpperCase();
  return [id.toUpperCase(), `%${hex}${id.slice(1)}`, `${id}%20`, `%09${id}`, `${id}/`, `${id}%00`];
}

/** Object-level authorization: for several users, every route with an id, by every version. */
export function defineObjectCases(target: () => Target): void {
  describe('object-level authorization', () => {
    it("no customer reads, changes or cancels another's user, order, payment or notification", async () => {
      const t = target();
      const { customers } = t.world;
      const tally = createTally();
      for (const victim of customers) {
        // The victim's own next-page cursors, which another customer replays.
        const orders = await t.send({ path: '/orders?limit=1', token: victim.token });
        const notes = await t.send({ path: '/notifications?limit=1', token: victim.token });
        const cursors = {
          orders: String((orders.body as PageDto<OrderDto>).next_cursor),
          notifications: String((notes.body as PageDto<NotificationDto>).next_cursor),
        };
        // Controls: the ids are real, since the owner and the admin can read them.
        for (const token of [victim.token, t.world.adminToken]) {
          expect((await t.send({ path: `/orders/${victim.orders[0].id}`, token })).status).toBe(200);
          expect((await t.send({ path: `/users/${victim.user.id}`, token })).status).toBe(200);
        }
        for (const attacker of customers.filter((c) => c !== victim)) {
          const who = `${attacker.user.username} on ${victim.user.username}`;
          for (const version of VERSIONS) {
            for (const c of objectCases(attacker, victim, cursors)) {
              const res = await t.send({
                method: c.method,
                path: `${version.prefix}${c.path}`,
                headers: version.headers,
                token: attacker.token,
                body: c.body,
              });
              tally.check(`${who}, ${version.label}: ${c.what}`, res, c.refused(res));
            }
          }
          for (const spelling of idSpellings(victim)) {
            const res = await t.send({ path: `/orders/${spelling}`, token: attacker.token });
            tally.check(
              `${who}: read the order as ${spelling}`,
              res,
              res.status === 404 || res.status === 400,
            );
          }
        }
      }
      await tally.settle(t, () => expectWorldIntact(t, { login: true }));
    });

    it("an Idempotency-Key is per user: another's key and body never answer with another's order", async () => {
      const t = target();
      const thief = await register(createClient(t.gateways[0]!));
      const tally = createTally();
      for (const victim of t.world.customers) {
        const res = await t.send({
          method: 'POST',
          path: '/orders',
          headers: { 'idempotency-key': victim.idempotency.key },
          token: thief.token,
          body: victim.idempotency.body,
        });
        const answer = res.body as Partial<OrderDto>;
        const refused =
          !res.text.includes(victim.orders[0].id) &&
          ((res.status === 201 && answer.user_id === thief.user.id) ||
            (res.status >= 400 && res.status < 500));
        tally.check(`a thief replays ${victim.user.username}'s key`, res, refused);
      }
      await tally.settle(t, () => expectWorldIntact(t));
    });
  });
}
