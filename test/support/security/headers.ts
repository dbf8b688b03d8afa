import type { OutgoingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createInternalAuth } from '../../../src/platform/rpc/identity.ts';
import type { OrderDto, PageDto, UserDto } from '../http-client.ts';
import { TEST_INTERNAL_SECRET } from '../split.ts';
import { send } from './raw-http.ts';
import { createTally, expectWorldIntact, isProblem, type Target, type World } from './world.ts';

/** Identity headers a client may send, each set claiming to be the admin or another customer. */
function spoofs(world: World): Array<{ what: string; headers: OutgoingHttpHeaders }> {
  const admin = world.adminId;
  const victim = world.customers[1]!.user.id;
  // Signed with the real internal secret: only the gateway's own signature may count.
  const signed = (id: string, role: 'admin' | 'customer') =>
    createInternalAuth(TEST_INTERNAL_SECRET).sign({ id, role });
  const forged = createInternalAuth('not-the-internal-secret-not-the-internal-secret').sign({
    id: admin,
    role: 'admin',
  });
  return [
    { what: 'X-User-Id of another customer', headers: { 'x-user-id': victim } },
    {
      what: 'X-User-Id of the admin and role headers',
      headers: { 'x-user-id': admin, 'x-user-role': 'admin', 'x-role': 'admin', 'x-roles': 'admin' },
    },
    {
      what: 'X-Actor headers',
      headers: {
        'x-actor': JSON.stringify({ id: admin, role: 'admin' }),
        'x-actor-id': admin,
        'x-actor-role': 'admin',
      },
    },
    {
      what: 'proxy user headers',
      headers: {
        'x-forwarded-user': 'admin',
        'x-remote-user': 'admin',
        'remote-user': 'admin',
        'x-authenticated-userid': admin,
        'x-auth-request-user': 'admin',
      },
    },
    {
      what: 'a validly signed admin X-Splitshop-Identity',
      headers: { 'x-splitshop-identity': signed(admin, 'admin') },
    },
    {
      what: 'a validly signed X-Splitshop-Identity of another customer',
      headers: { 'x-splitshop-identity': signed(victim, 'customer') },
    },
    { what: 'a forged X-Splitshop-Identity', headers: { 'x-splitshop-identity': forged } },
    {
      what: 'forwarding headers',
      headers: {
        'x-forwarded-for': '10.9.8.7',
        'x-real-ip': '10.9.8.7',
        forwarded: 'for=10.9.8.7',
        'true-client-ip': '10.9.8.7',
      },
    },
    {
      what: 'Connection naming the identity header',
      headers: {
        connection: 'keep-alive, x-splitshop-identity',
        'x-splitshop-identity': signed(admin, 'admin'),
      },
    },
    {
      what: 'Connection naming Authorization and X-Forwarded-For',
      headers: { connection: 'authorization, x-forwarded-for', 'x-user-id': admin, 'x-user-role': 'admin' },
    },
    { what: 'Connection naming X-User-Id', headers: { connection: 'x-user-id', 'x-user-id': admin } },
  ];
}

/** Client-sent identity never counts: a customer stays itself, an anonymous caller stays anonymous. */
export function defineHeaderCases(target: () => Target): void {
  describe('client-sent identity headers', () => {
    it('never make a customer someone else or an admin, nor an anonymous caller anyone', async () => {
      const t = target();
      const { world } = t;
      const [customer, victim] = world.customers;
      const tally = createTally();
      for (const spoof of spoofs(world)) {
        const as = { headers: spoof.headers, token: customer!.token };
        const me = await t.send({ ...as, path: '/users/me' });
        const meBody = me.body as UserDto;
        tally.check(
          `${spoof.what}: /users/me`,
          me,
          me.status === 200 && meBody.id === customer!.user.id && meBody.role === 'customer',
        );
        const orders = await t.send({ ...as, path: '/orders?limit=100' });
        const items = (orders.body as PageDto<OrderDto>).items ?? [];
        tally.check(
          `${spoof.what}: /orders`,
          orders,
          orders.status === 200 && items.every((o) => o.user_id === customer!.user.id),
        );
        const other = await t.send({ ...as, path: `/orders/${victim!.orders[0].id}` });
        tally.check(`${spoof.what}: another's order`, other, isProblem(other, 404, 'ORDER_NOT_FOUND'));
        const create = await t.send({
          ...as,
          method: 'POST',
          path: '/products',
          body: { name: 'Spoofed', price: 1, stock: 1 },
        });
        tally.check(`${spoof.what}: POST /products`, create, isProblem(create, 403, 'FORBIDDEN'));
        for (const path of ['/users/me', '/notifications', `/orders/${victim!.orders[0].id}`]) {
          const anonymous = await t.send({ headers: spoof.headers, path });
          tally.check(
            `${spoof.what}, anonymous: ${path}`,
            anonymous,
            isProblem(anonymous, 401, 'UNAUTHORIZED'),
          );
        }
      }
      // Two Authorization headers: the second (the admin's) must not win.
      const twice = await t.send({
        method: 'POST',
        path: '/products',
        // Capitalised: node:http types the lower-case name as a single value.
        headers: { Authorization: [`Bearer ${customer!.token}`, `Bearer ${world.adminToken}`] },
        body: { name: 'Twice', price: 1, stock: 1 },
      });
      tally.check(
        'two Authorization headers',
        twice,
        twice.status === 403 || twice.status === 401 || twice.status === 400,
      );
      await tally.settle(t, () => expectWorldIntact(t));
    });

    it('X-Forwarded-For and its kin never open a fresh rate-limit bucket, on any gateway', async () => {
      const t = target();
      const tally = createTally();
      // A source address of its own, so the count is this test's alone.
      const localAddress = '127.0.0.61';
      const forwarding = [
        'x-forwarded-for',
        'x-real-ip',
        'true-client-ip',
        'x-client-ip',
        'cf-connecting-ip',
        'forwarded',
      ];
      // Each gateway counts far-from-the-limit requests itself and sends its counts to Redis in batches
      // (http/rate-limit-counts.ts), so what one reports need not include the other's latest; but on
      // each gateway every request leaves less than the one before, whatever address it claims.
      const previous = new Map<number, number>();
      for (let i = 0; i < forwarding.length * 2; i++) {
        const name = forwarding[i % forwarding.length]!;
        const value = name === 'forwarded' ? `for=10.1.2.${i}` : `10.1.2.${i}`;
        const gateway = i % t.gateways.length;
        const res = await send(t.gateways[gateway]!, {
          path: '/products',
          headers: { [name]: value },
          localAddress,
        });
        const remaining = Number(/;r=(\d+);/.exec(String(res.headers.ratelimit))?.[1]);
        expect(Number.isInteger(remaining)).toBe(true);
        const before = previous.get(gateway);
        if (before !== undefined) tally.check(`${name}: ${value}`, res, remaining < before);
        previous.set(gateway, remaining);
      }
      await tally.settle(t);
    });
  });
}
