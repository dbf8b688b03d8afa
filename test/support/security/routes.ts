import type { OutgoingHttpHeaders } from 'node:http';
import { uniqueName } from '../http-client.ts';
import type { Customer, World } from './world.ts';

/** Who may call an operation, as API.md says. */
export type Access = 'public' | 'user' | 'admin';

/**
 * Every operation of the public API and who may call it. The suite checks that the OpenAPI document
 * lists exactly these, so a route added later is classified here before the suite passes.
 */
export const OPERATIONS = {
  'POST /auth/register': 'public',
  'POST /users': 'public',
  'POST /auth/login': 'public',
  'GET /users/me': 'user',
  'GET /users/{id}': 'user',
  'PATCH /users/{id}': 'user',
  'GET /products': 'public',
  'POST /products': 'admin',
  'GET /products/{id}': 'public',
  'PATCH /products/{id}': 'admin',
  'GET /payments': 'user',
  'GET /notifications': 'user',
  'POST /orders': 'user',
  'GET /orders': 'user',
  'GET /orders/{id}': 'user',
  'GET /orders/{id}/events': 'user',
  'POST /orders/{id}/cancel': 'user',
  'POST /orders/{id}/ship': 'admin',
} as const satisfies Record<string, Access>;

export type Operation = keyof typeof OPERATIONS;

/** One request of a case: the operation it exercises, and what it sends. */
export interface Probe {
  readonly operation: Operation;
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
}

/** How a case reaches a route: the unprefixed path, either version prefix, or the version header. */
export const VERSIONS: ReadonlyArray<{
  readonly label: string;
  readonly prefix: string;
  readonly headers: OutgoingHttpHeaders;
}> = [
  { label: 'unprefixed', prefix: '', headers: {} },
  { label: '/v1', prefix: '/v1', headers: {} },
  { label: '/v2', prefix: '/v2', headers: {} },
  { label: 'API-Version: 2', prefix: '', headers: { 'api-version': '2' } },
];

/**
 * One request per authenticated operation, aimed at `victim`'s resources: a token that got through
 * would read or change them (the cancel target is the victim's second order).
 */
export function authenticatedProbes(world: World, victim: Customer): Probe[] {
  const [order, cancelTarget] = victim.orders;
  const id = victim.user.id;
  const probes: Probe[] = [
    { operation: 'GET /users/me', method: 'GET', path: '/users/me' },
    { operation: 'GET /users/{id}', method: 'GET', path: `/users/${id}` },
    {
      operation: 'PATCH /users/{id}',
      method: 'PATCH',
      path: `/users/${id}`,
      body: { email: `x${id}@evil.test` },
    },
    { operation: 'GET /payments', method: 'GET', path: `/payments?order_id=${order.id}` },
    { operation: 'GET /notifications', method: 'GET', path: '/notifications' },
    { operation: 'POST /orders', method: 'POST', path: '/orders', body: victim.idempotency.body },
    { operation: 'GET /orders', method: 'GET', path: `/orders?user_id=${id}` },
    { operation: 'GET /orders/{id}', method: 'GET', path: `/orders/${order.id}` },
    { operation: 'GET /orders/{id}/events', method: 'GET', path: `/orders/${order.id}/events` },
    { operation: 'POST /orders/{id}/cancel', method: 'POST', path: `/orders/${cancelTarget.id}/cancel` },
    ...adminProbes(world, victim),
  ];
  return probes;
}

/** One request per admin operation, as `customer` would try it on its own order and the world's product. */
export function adminProbes(world: World, customer: Customer): Probe[] {
  const product = world.product.id;
  return [
    {
      operation: 'POST /products',
      method: 'POST',
      path: '/products',
      body: { name: uniqueName('Sneaky'), price: 1, stock: 1 },
    },
    {
      operation: 'PATCH /products/{id}',
      method: 'PATCH',
      path: `/products/${product}`,
      body: { price: 0.01, stock: 999_999 },
    },
    { operation: 'POST /orders/{id}/ship', method: 'POST', path: `/orders/${customer.orders[0].id}/ship` },
  ];
}
