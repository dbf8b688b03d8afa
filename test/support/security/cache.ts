import { describe, it } from 'vitest';
import type { NotificationDto, OrderDto, PageDto, PaymentDto, ProductDto, UserDto } from '../http-client.ts';
import type { RawResponse } from './raw-http.ts';
import { type Customer, createTally, type Target } from './world.ts';

/** A personal answer that no shared cache may keep: `no-store` or `private`, never `public`. */
function uncacheable(res: RawResponse): boolean {
  const control = String(res.headers['cache-control'] ?? '');
  return /\b(no-store|private)\b/.test(control) && !/\bpublic\b/.test(control);
}

/** Personal reads, and how to tell that an answer is `reader`'s own and nobody else's. */
function personalReads(reader: Customer, others: readonly Customer[]) {
  const mine = (res: RawResponse) => res.status === 200;
  const foreign = new Set(
    others.flatMap((o) => [o.user.id, ...o.orders.map((x) => x.id), ...o.notificationIds]),
  );
  const leaks = (res: RawResponse) => [...foreign].some((id) => res.text.includes(id));
  const order = reader.orders[0].id;
  return [
    { path: '/users/me', own: (r: RawResponse) => mine(r) && (r.body as UserDto).id === reader.user.id },
    {
      path: `/users/${reader.user.id}`,
      own: (r: RawResponse) => mine(r) && (r.body as UserDto).id === reader.user.id,
    },
    {
      path: '/orders',
      own: (r: RawResponse) =>
        mine(r) && (r.body as PageDto<OrderDto>).items.every((o) => o.user_id === reader.user.id),
    },
    {
      path: `/orders/${order}`,
      own: (r: RawResponse) => mine(r) && (r.body as OrderDto).user_id === reader.user.id,
    },
    { path: `/orders/${order}/events`, own: mine },
    {
      path: `/payments?order_id=${order}`,
      own: (r: RawResponse) => mine(r) && (r.body as PaymentDto[]).every((p) => p.order_id === order),
    },
    {
      path: '/notifications',
      own: (r: RawResponse) =>
        mine(r) &&
        (r.body as PageDto<NotificationDto>).items.some((n) => reader.notificationIds.includes(n.id)),
    },
  ].map((read) => ({ ...read, own: (r: RawResponse) => read.own(r) && !leaks(r) }));
}

/** The response cache never serves one user's data to another. */
export function defineCacheCases(target: () => Target): void {
  describe('response caching', () => {
    it("never serves one user's data to another, and marks personal answers uncacheable", async () => {
      const t = target();
      const { customers } = t.world;
      const tally = createTally();
      // The same paths, read by one customer after another through every gateway, twice over.
      for (let round = 0; round < 2; round++) {
        for (const prefix of ['', '/v2']) {
          for (const reader of customers) {
            const others = customers.filter((c) => c !== reader);
            for (const read of personalReads(reader, others)) {
              const path = `${prefix}${read.path}`;
              const res = await t.send({ path, token: reader.token });
              tally.check(`${reader.user.username} reads ${path}`, res, read.own(res) && uncacheable(res));
            }
          }
        }
      }
      await tally.settle(t);
    });

    it('keys public product reads on the version and nothing a client adds', async () => {
      const t = target();
      const { product } = t.world;
      const path = `/products/${product.id}`;
      const tally = createTally();
      // Fills that would poison a cache keyed only on the path.
      const fills = [
        { path: `/v2${path}`, token: t.world.adminToken },
        { path, headers: { 'api-version': '2' } },
        {
          path,
          headers: {
            'x-forwarded-host': 'evil.example',
            'x-original-url': '/internal/x',
            'x-forwarded-proto': 'gopher',
          },
        },
        { path, token: t.world.customers[0]!.token, headers: { 'accept-language': 'evil' } },
      ];
      for (const fill of fills) {
        await t.send(fill);
        for (const [version, read] of [
          [1, { path }],
          [2, { path: `/v2${path}` }],
        ] as const) {
          const res = await t.send(read);
          const price = (res.body as ProductDto<unknown>).price;
          const shaped = version === 1 ? typeof price === 'number' : typeof price === 'object';
          tally.check(
            `v${version} read after ${JSON.stringify(fill)}`,
            res,
            res.status === 200 && shaped && !res.text.includes('evil'),
          );
        }
      }
      await tally.settle(t);
    });
  });
}
