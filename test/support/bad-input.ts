import { type Caller, type FuzzRequest, wasValid } from './fuzz-requests.ts';
import {
  adminLogin,
  type Client,
  createClient,
  type HttpResponse,
  type OrderDto,
  type PageDto,
  type ProductDto,
  placeOrder,
  register,
  uniqueUsername,
} from './http-client.ts';
import type { KnownValues } from './openapi-fuzz.ts';
import type { ShopHandle } from './shop.ts';

/**
 * What every shop of the bad-input suite is started with. Rate limits and the failed-login limit are out
 * of reach, so that thousands of requests from one address exercise validation rather than a 429; the
 * request time limit is short so the slow-client case ends soon, with the saga deadline below it.
 */
export const BAD_INPUT_ENV = {
  RATE_LIMIT_MAX: '100000000',
  LOGIN_FAILURES_MAX: '100000000',
  REQUEST_TIMEOUT_MS: '10000',
  SAGA_DEADLINE_MS: '8000',
};
export const REQUEST_TIMEOUT_MS = Number(BAD_INPUT_ENV.REQUEST_TIMEOUT_MS);

/** The accounts and records a shop is fuzzed with. */
export interface World {
  readonly client: Client;
  readonly adminToken: string;
  /** A product the fuzzing never learns the id of, so hand-written cases can watch it stay unchanged. */
  readonly product: ProductDto;
  readonly tokens: Readonly<Record<Caller, string | undefined>>;
  readonly known: KnownValues;
}

/** Logs in the admin, registers two customers, creates products and places orders to fuzz with. */
export async function prepareWorld(shop: ShopHandle): Promise<World> {
  const client = createClient(shop.baseUrl);
  const adminToken = await adminLogin(client, shop.adminPassword);
  const [customer, other] = [await register(client), await register(client)];
  const products: ProductDto[] = [];
  for (const name of ['Fuzzed kettle', 'Fuzzed teapot', 'Watched kettle']) {
    const res = await client.request<ProductDto>('POST', '/products', {
      token: adminToken,
      body: { name, price: 19.99, stock: 1_000_000 },
    });
    if (res.status !== 201) throw new Error(`create product: ${res.status} ${res.text}`);
    products.push(res.body);
  }
  const orders: OrderDto[] = [];
  const [kettle, teapot, watched] = products as [ProductDto, ProductDto, ProductDto];
  for (const account of [customer, customer, customer, other])
    orders.push(await placeOrder(client, account.token, kettle.id));
  return {
    client,
    adminToken,
    product: watched,
    tokens: { admin: adminToken, customer: customer.token, anonymous: undefined, forged: 'a.b.c' },
    known: {
      product_id: [kettle.id, teapot.id],
      order_id: orders.map((o) => o.id),
      user_id: [customer.user.id, other.user.id],
      username: [customer.user.username],
      email: [customer.user.email],
      password: [customer.password],
      currency: ['USD'],
    },
  };
}

/** What is wrong with a 4xx answer as an RFC 9457 problem document, if anything. */
export function problemIssue(res: HttpResponse): string | undefined {
  if (!/^application\/problem\+json/.test(res.headers.get('content-type') ?? ''))
    return `content-type ${res.headers.get('content-type')}`;
  const p = res.body as Partial<Record<'type' | 'title' | 'code' | 'request_id', unknown>> & {
    status?: unknown;
  };
  if (p.status !== res.status) return `status ${String(p.status)} in a ${res.status}`;
  if (typeof p.code !== 'string' || !/^[A-Z][A-Z0-9_]*$/.test(p.code)) return `code ${String(p.code)}`;
  if (p.type !== `urn:splitshop:problem:${p.code.toLowerCase().replaceAll('_', '-')}`)
    return `type ${String(p.type)} for ${p.code}`;
  if (typeof p.title !== 'string' || p.title === '') return 'no title';
  if (p.request_id !== res.headers.get('x-request-id')) return 'request_id differs from X-Request-Id';
  return undefined;
}

/** Sends one generated request with its caller's token. */
export function send(world: World, request: FuzzRequest): Promise<HttpResponse> {
  const token = world.tokens[request.caller];
  return world.client.request(request.method, request.path, {
    headers: { ...request.headers, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(request.body !== undefined ? { rawBody: request.body } : {}),
  });
}

/** Why the answer to a generated request breaks the claim, if it does. */
export function verdict(request: FuzzRequest, res: HttpResponse): string | undefined {
  if (res.status >= 500) return `${res.status}`;
  if (res.status >= 400) {
    const issue = problemIssue(res);
    return issue && `${res.status} is not a problem document: ${issue}`;
  }
  if (res.status < 300 && !wasValid(request)) return `${res.status} for a request its schema refuses`;
  return undefined;
}

/** How many products the shop lists, every page read. */
export async function productCount(client: Client): Promise<number> {
  let count = 0;
  let cursor: string | null = null;
  do {
    const res: HttpResponse<PageDto<ProductDto>> = await client.request(
      'GET',
      `/products?limit=100${cursor ? `&cursor=${cursor}` : ''}`,
    );
    if (res.status !== 200) throw new Error(`list products: ${res.status}`);
    count += res.body.items.length;
    cursor = res.body.next_cursor;
  } while (cursor);
  return count;
}

/** A registration body no one has used. */
export function newUser(): { username: string; email: string; password: string } {
  const username = uniqueUsername('n');
  return { username, email: `${username}@example.test`, password: 'pw-12345678' };
}
