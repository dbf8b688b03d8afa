import { randomBytes } from 'node:crypto';
import { expect, vi } from 'vitest';

/** What a test sends besides the method and path. `rawBody` is sent as is, with `contentType`. */
export interface RequestOptions {
  readonly body?: unknown;
  readonly token?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly rawBody?: string | Uint8Array;
  readonly contentType?: string;
}

/** A response: `body` is the parsed JSON when the server said JSON, else the text. */
export interface HttpResponse<T = unknown> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
  readonly text: string;
}

export interface Client {
  readonly baseUrl: string;
  request<T = unknown>(method: string, path: string, options?: RequestOptions): Promise<HttpResponse<T>>;
}

/** What every suite gets from the one started shop. */
export interface ShopContext {
  readonly client: Client;
  readonly adminToken: string;
  readonly adminPassword: string;
}

export type ShopAccessor = () => ShopContext;

export interface UserDto {
  id: string;
  username: string;
  email: string;
  role: 'customer' | 'admin';
  created_at: string;
}

export interface TokenDto {
  access_token: string;
  token_type: string;
  expires_in: number;
}

export interface MoneyDto {
  amount_minor: number;
  currency: string;
}

/** A product as v1 writes it (`price` a decimal number); `ProductDto<MoneyDto>` as v2 does. */
export interface ProductDto<P = number> {
  id: string;
  name: string;
  description: string;
  price: P;
  stock: number;
  created_at: string;
  updated_at: string;
}

export interface OrderDto<P = number> {
  id: string;
  user_id: string;
  items: Array<{ product_id: string; quantity: number; unit_price: P }>;
  total: P;
  status: 'pending' | 'confirmed' | 'cancelled' | 'shipped';
  created_at: string;
  updated_at: string;
}

export interface OrderEventDto {
  type: string;
  version: number;
  occurred_at: string;
  data: Record<string, unknown>;
}

export interface PaymentDto {
  id: string;
  order_id: string;
  kind: 'charge' | 'refund';
  amount: number;
  status: string;
  created_at: string;
}

export interface NotificationDto {
  id: string;
  channel: string;
  subject: string;
  body: string;
  created_at: string;
}

export interface PageDto<T> {
  items: T[];
  next_cursor: string | null;
}

export interface ProblemDto {
  type: string;
  title: string;
  status: number;
  detail?: string;
  code: string;
  request_id: string;
  errors?: Array<{ path: string; message: string }>;
  order_id?: string;
}

export function createClient(baseUrl: string): Client {
  const base = baseUrl.replace(/\/+$/, '');
  return {
    baseUrl: base,
    async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<HttpResponse<T>> {
      const headers: Record<string, string> = { ...options.headers };
      if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
      let body: string | Uint8Array | undefined;
      if (options.rawBody !== undefined) {
        body = options.rawBody;
        if (options.contentType !== undefined) headers['content-type'] = options.contentType;
      } else if (options.body !== undefined) {
        body = JSON.stringify(options.body);
        headers['content-type'] = options.contentType ?? 'application/json';
      }
      // A hung shop fails the test instead of hanging the run.
      const res = await fetch(`${base}${path}`, {
        method,
        headers,
        body,
        signal: AbortSignal.timeout(30_000),
      });
      const text = await res.text();
      const json = /[/+]json\b/.test(res.headers.get('content-type') ?? '') && text !== '';
      return { status: res.status, headers: res.headers, body: (json ? JSON.parse(text) : text) as T, text };
    },
  };
}

let counter = 0;

/** A username no other test uses: 3–32 of `[a-z0-9_.-]`. */
export function uniqueUsername(prefix = 'u'): string {
  counter += 1;
  return `${prefix}${counter}_${process.pid}_${randomBytes(3).toString('hex')}`;
}

/** A product name no other test uses. */
export function uniqueName(label: string): string {
  counter += 1;
  return `${label} ${counter}-${randomBytes(3).toString('hex')}`;
}

export function validPassword(): string {
  return `pw-${randomBytes(8).toString('hex')}`;
}

export interface Account {
  readonly user: UserDto;
  readonly token: string;
  readonly password: string;
}

/** Registers a customer with a unique username and logs it in. */
export async function register(
  client: Client,
  overrides: Partial<{ username: string; email: string; password: string }> = {},
): Promise<Account> {
  const username = overrides.username ?? uniqueUsername();
  const password = overrides.password ?? validPassword();
  const email = overrides.email ?? `${username}@example.test`;
  const res = await client.request<UserDto>('POST', '/auth/register', {
    body: { username, email, password },
  });
  if (res.status !== 201) throw new Error(`register ${username}: ${res.status} ${res.text}`);
  const token = await login(client, { username, password });
  return { user: res.body, token, password };
}

/** Logs in and returns the access token; throws on anything but 200. */
export async function login(
  client: Client,
  credentials: { username: string; password: string } | { email: string; password: string },
): Promise<string> {
  const res = await client.request<TokenDto>('POST', '/auth/login', { body: credentials });
  if (res.status !== 200) throw new Error(`login: ${res.status} ${res.text}`);
  return res.body.access_token;
}

export function adminLogin(client: Client, password: string): Promise<string> {
  return login(client, { username: 'admin', password });
}

/** Asserts an RFC 9457 problem document with this status and code, and returns it. */
export function expectProblem(res: HttpResponse, status: number, code: string): ProblemDto {
  expect({ status: res.status, body: res.body }).toMatchObject({ status, body: { code } });
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const problem = res.body as ProblemDto;
  expect(problem).toMatchObject({
    type: expect.any(String),
    title: expect.any(String),
    status,
    code,
    request_id: res.headers.get('x-request-id'),
  });
  return problem;
}

/** Asserts a 400 VALIDATION_FAILED problem with a non-empty `errors` list. */
export function expectValidationProblem(res: HttpResponse): ProblemDto {
  const problem = expectProblem(res, 400, 'VALIDATION_FAILED');
  expect(problem.errors).toEqual(
    expect.arrayContaining([expect.objectContaining({ path: expect.any(String) })]),
  );
  return problem;
}

/** The entries of a list answer, whether the server wrote a bare array or a page. */
export function listOf<T>(body: unknown): T[] {
  if (Array.isArray(body)) return body as T[];
  expect(body).toMatchObject({ items: expect.any(Array) });
  return (body as PageDto<T>).items;
}

/** Retries `check` until it stops throwing: for what events or edge caches make true a moment later. */
export function eventually<T>(check: () => Promise<T>, timeout = 15_000): Promise<T> {
  return vi.waitFor(check, { timeout, interval: 200 });
}

export const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|\+00:00)$/;

/** The header and claims of a JWT, unverified. */
export function decodeJwt(token: string): {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
} {
  const [header = '', payload = ''] = token.split('.');
  const part = (s: string) =>
    JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as Record<string, unknown>;
  return { header: part(header), payload: part(payload) };
}

/** Creates a product as the admin (v1 body) and returns it. */
export async function createProduct(
  shop: ShopContext,
  fields: Partial<{ name: string; price: number; stock: number; description: string }> = {},
): Promise<ProductDto> {
  const body = { name: uniqueName('Product'), price: 12.99, stock: 10, ...fields };
  const res = await shop.client.request<ProductDto>('POST', '/products', { token: shop.adminToken, body });
  if (res.status !== 201) throw new Error(`create product: ${res.status} ${res.text}`);
  return res.body;
}

/** Places an order for one product and expects it confirmed. */
export async function placeOrder(
  client: Client,
  token: string,
  productId: string,
  quantity = 1,
): Promise<OrderDto> {
  const res = await client.request<OrderDto>('POST', '/orders', {
    token,
    body: { items: [{ product_id: productId, quantity }] },
  });
  if (res.status !== 201) throw new Error(`place order: ${res.status} ${res.text}`);
  return res.body;
}

/** Waits until the public product read shows this stock (an edge cache may lag a stock change). */
export function expectStock(client: Client, productId: string, stock: number): Promise<void> {
  return eventually(async () => {
    const res = await client.request<ProductDto>('GET', `/products/${productId}`);
    expect(res.status).toBe(200);
    expect(res.body.stock).toBe(stock);
  });
}
