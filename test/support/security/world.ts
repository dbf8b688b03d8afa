import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import { recordFigures } from '../figures.ts';
import {
  adminLogin,
  createClient,
  createProduct,
  decodeJwt,
  eventually,
  type NotificationDto,
  type OrderDto,
  type PageDto,
  type ProductDto,
  register,
  type UserDto,
} from '../http-client.ts';
import type { ShopHandle } from '../shop.ts';
import { type RawResponse, type SendOptions, send } from './raw-http.ts';

/** A customer of the suite's world, with what it owns. */
export interface Customer {
  readonly user: UserDto;
  readonly token: string;
  readonly password: string;
  /** Two confirmed orders: the first is read and probed, the second is the target of cancellations. */
  readonly orders: readonly [OrderDto, OrderDto];
  /** The key and body the first order was placed with. */
  readonly idempotency: { readonly key: string; readonly body: unknown };
  /** Its notifications once the world settled. */
  readonly notificationIds: readonly string[];
}

/** Users, a product and orders every security case works on, made once per topology. */
export interface World {
  readonly adminToken: string;
  readonly adminId: string;
  readonly product: ProductDto;
  readonly customers: readonly Customer[];
}

/** A running topology under attack: every public entry point, the world, and the case count. */
export interface Target {
  readonly topology: 'monolith' | 'split';
  readonly handle: ShopHandle;
  /** The public entry points: one for the monolith, two gateways for split. */
  readonly gateways: readonly string[];
  /** A catalog instance behind the gateway (split only), for controls that go around the gateway. */
  readonly catalogUrl?: string;
  readonly world: World;
  /** Sends through the entry points in turn, so cases are spread over every gateway. */
  send(options: SendOptions): Promise<RawResponse>;
}

export function createTarget(fields: Omit<Target, 'send'>): Target {
  let turn = 0;
  const { gateways } = fields;
  return { ...fields, send: (options) => send(gateways[turn++ % gateways.length]!, options) };
}

const CUSTOMERS = 3;

export async function buildWorld(baseUrl: string, adminPassword: string): Promise<World> {
  const client = createClient(baseUrl);
  const adminToken = await adminLogin(client, adminPassword);
  const product = await createProduct({ client, adminToken, adminPassword }, { price: 5, stock: 10_000 });
  const customers: Customer[] = [];
  for (let n = 0; n < CUSTOMERS; n++) {
    const { user, token, password } = await register(client);
    const key = randomUUID();
    const body = { items: [{ product_id: product.id, quantity: 1 }] };
    const orders: OrderDto[] = [];
    for (const headers of [{ 'idempotency-key': key }, {}] as Array<Record<string, string>>) {
      const res = await client.request<OrderDto>('POST', '/orders', { token, body, headers });
      expect(res.status).toBe(201);
      orders.push(res.body);
    }
    // Registration and two confirmations: once all three arrived, nothing else is on its way.
    const notificationIds = await eventually(async () => {
      const res = await client.request<PageDto<NotificationDto>>('GET', '/notifications?limit=100', {
        token,
      });
      expect(res.body.items.length).toBeGreaterThanOrEqual(3);
      return res.body.items.map((item) => item.id);
    }, 30_000);
    customers.push({
      user,
      token,
      password,
      orders: orders as [OrderDto, OrderDto],
      idempotency: { key, body },
      notificationIds,
    });
  }
  return { adminToken, adminId: String(decodeJwt(adminToken).payload.sub), product, customers };
}

/** Whether `res` is the problem document `status` / `code`. */
export function isProblem(res: RawResponse, status: number, code: string): boolean {
  return (
    res.status === status &&
    /^application\/problem\+json/.test(res.headers['content-type'] ?? '') &&
    (res.body as { code?: unknown }).code === code
  );
}

/** A refusal that got through: which case, and what the shop answered. */
export interface Breach {
  readonly case: string;
  readonly status: number;
  readonly answer: string;
}

/**
 * Counts the cases of one test and the ones that got through. `settle` asserts that none did and only
 * then publishes the figures, so a published figure always comes from a passing test.
 */
export interface Tally {
  /** Counts one case; `refused` says whether the shop held. */
  check(name: string, res: RawResponse, refused: boolean): void;
  readonly breaches: readonly Breach[];
  /** Asserts that no case got through, then runs `after` (checks that nothing changed), then publishes. */
  settle(target: Target, after?: () => Promise<void>): Promise<void>;
}

export function createTally(): Tally {
  let cases = 0;
  const breaches: Breach[] = [];
  return {
    check(name, res, refused) {
      cases++;
      if (!refused) breaches.push({ case: name, status: res.status, answer: res.text.slice(0, 300) });
    },
    breaches,
    async settle(target, after) {
      expect(breaches).toEqual([]);
      expect(cases).toBeGreaterThan(0);
      await after?.();
      recordFigures(`security (${target.topology})`, { security: { cases, accepted: breaches.length } });
    },
  };
}

/** A fresh query string, so a read goes past the gateway's edge cache to the service. */
export const bust = () => `?fresh=${randomUUID()}`;

/** A product as the catalog has it now, read past any cache. */
export async function productNow(target: Target): Promise<ProductDto> {
  const res = await target.send({ path: `/products/${target.world.product.id}${bust()}` });
  expect(res.status).toBe(200);
  return res.body as ProductDto;
}

/**
 * Asserts that no case changed the world: each customer is still a customer with its email, both its
 * orders still confirmed, its notifications the same (a cancel, a ship or an email change would add
 * one), the product still as made; with `login`, each password still the one it chose.
 */
export async function expectWorldIntact(target: Target, options: { login?: boolean } = {}): Promise<void> {
  const { world } = target;
  for (const customer of world.customers) {
    const me = await target.send({ path: '/users/me', token: customer.token });
    expect(me.body).toEqual(customer.user);
    for (const order of customer.orders) {
      const res = await target.send({ path: `/orders/${order.id}`, token: customer.token });
      expect((res.body as OrderDto).status).toBe('confirmed');
    }
    const notes = await target.send({ path: '/notifications?limit=100', token: customer.token });
    expect((notes.body as PageDto<NotificationDto>).items.map((n) => n.id)).toEqual(customer.notificationIds);
    if (options.login) {
      const res = await target.send({
        method: 'POST',
        path: '/auth/login',
        body: { username: customer.user.username, password: customer.password },
      });
      expect(res.status).toBe(200);
      expect(decodeJwt((res.body as { access_token: string }).access_token).payload.role).toBe('customer');
    }
  }
  const product = await productNow(target);
  expect({ name: product.name, price: product.price }).toEqual({
    name: world.product.name,
    price: world.product.price,
  });
}
