import pino from 'pino';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CallContext } from '../context.ts';
import { staticInstances } from '../discovery/instances.ts';
import { AppError, hasCode } from '../errors.ts';
import { createRpcClient, type RpcClientOptions } from './client.ts';
import { createInternalAuth, IDENTITY_HEADER } from './identity.ts';
import {
  auth,
  deadUrl,
  type FakeApi,
  type Host,
  idempotent,
  methods,
  PUBLIC_RATE_LIMIT,
  silent,
  startHost,
} from './test-support.ts';

const ctx: CallContext = { requestId: 'req-1', actor: { id: 'u1', role: 'customer', sessionVersion: 0 } };

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => expect.fail(`expected a rejection, got ${JSON.stringify(value)}`),
    (error: unknown) => error,
  );
}

const clients: Array<{ close(): Promise<void> }> = [];

function clientOf(urls: string[], overrides: Partial<RpcClientOptions<FakeApi>> = {}) {
  const client = createRpcClient<FakeApi>({
    module: 'fake',
    methods,
    idempotent,
    instances: staticInstances(urls),
    auth,
    log: silent,
    backoff: { initialDelayMs: 1, maxDelayMs: 5 },
    ...overrides,
  });
  clients.push(client);
  return client;
}

describe('internal RPC over HTTP', () => {
  let host: Host;
  beforeEach(async () => {
    host = await startHost();
  });
  afterEach(async () => {
    vi.useRealTimers();
    for (const client of clients.splice(0)) await client.close();
    await host.close();
  });

  describe('the server and the client together', () => {
    it('round-trips arguments and results as JSON, undefined as null', async () => {
      const { api } = clientOf([host.url]);
      const value = { name: 'lamp', price_minor: 1299, tags: ['a', null], nested: { ok: true } };
      expect(await api.echo(ctx, value, 'second')).toEqual({ value, more: 'second' });
      expect(await api.nothing(ctx)).toBeNull();
    });

    it('raises the same AppError the module raised: code, status, title, detail and extra fields', async () => {
      const { api } = clientOf([host.url]);
      const error = await rejection(api.refuse(ctx));
      expect(error).toBeInstanceOf(AppError);
      expect(hasCode(error, 'OUT_OF_STOCK')).toBe(true);
      expect(error).toMatchObject({
        status: 409,
        title: 'Not enough stock',
        detail: 'Product p1 has 2 left',
        extra: { order_id: 'o-1', errors: [{ path: '/body/items/0', message: 'too many' }] },
      });
      expect(Object.keys((error as AppError).extra).sort()).toEqual(['errors', 'order_id']);
    });

    it('raises INTERNAL without the internal message for a module that crashed', async () => {
      const { api } = clientOf([host.url]);
      const error = await rejection(api.crash(ctx));
      expect(hasCode(error, 'INTERNAL')).toBe(true);
      expect((error as AppError).status).toBe(500);
      expect(String((error as AppError).message)).not.toContain('secret');
    });

    it('hands the module the caller context: request id, actor, trace context', async () => {
      const { api } = clientOf([host.url]);
      const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
      expect(await api.whoami({ ...ctx, traceparent })).toEqual({ ...ctx, traceparent });
      expect(await api.whoami({ requestId: 'anonymous' })).toEqual({ requestId: 'anonymous' });
    });
  });

  describe('the server', () => {
    const post = (path: string, headers: Record<string, string>, body: unknown = { args: [] }) =>
      request(`${host.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      }).then(async (res) => ({
        status: res.statusCode,
        type: res.headers['content-type'],
        body: (await res.body.json()) as Record<string, unknown>,
      }));

    it('refuses a call without an identity, or with a forged or foreign one, before calling the api', async () => {
      const forged = `${auth.sign(ctx.actor).slice(0, -4)}AAAA`;
      const foreign = createInternalAuth('another-internal-secret-0123456789abcdef').sign(ctx.actor);
      const attempts: Array<Record<string, string>> = [
        {},
        { [IDENTITY_HEADER]: forged },
        { [IDENTITY_HEADER]: foreign },
      ];
      for (const headers of attempts) {
        const res = await post('/internal/fake/write', headers);
        expect(res.status).toBe(401);
        expect(res.type).toContain('application/problem+json');
        expect(res.body.code).toBe('UNAUTHORIZED');
      }
      expect(host.calls('write')).toBe(0);
    });

    it('answers 404 for a method the contract does not list, 400 for arguments that are not a short array', async () => {
      const identity = { [IDENTITY_HEADER]: auth.sign(ctx.actor) };
      for (const name of ['nope', 'constructor', '__proto__', 'toString']) {
        const res = await post(`/internal/fake/${name}`, identity);
        expect(res.status, name).toBe(404);
        expect(res.body.code).toBe('NOT_FOUND');
      }
      for (const body of [{ args: 'x' }, { args: [1, 2, 3, 4, 5] }, {}, { args: [], more: 1 }]) {
        const res = await post('/internal/fake/echo', identity, body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body.code).toBe('VALIDATION_FAILED');
      }
      expect(host.calls('echo')).toBe(0);
      const ok = await post('/internal/fake/echo', identity, { args: [1, 2] });
      expect(ok).toMatchObject({ status: 200, body: { result: { value: 1, more: 2 } } });
    });
  });

  it('holds internal routes to no public rate limit: callers hold the secret and are limited upstream', async () => {
    const { api } = clientOf([host.url]);
    for (let i = 0; i < PUBLIC_RATE_LIMIT * 3; i++) expect(await api.read(ctx)).toBe('read');
    expect(host.calls('read')).toBe(PUBLIC_RATE_LIMIT * 3);
  });

  describe('retries', () => {
    it('never retries a domain error, even of an idempotent method', async () => {
      const { api } = clientOf([host.url, host.url], { retries: 3 });
      await rejection(api.refuse(ctx));
      expect(host.calls('refuse')).toBe(1);
    });

    it('retries an idempotent method on the next instance when the first is down', async () => {
      const { api } = clientOf([await deadUrl(), host.url], { retries: 2 });
      expect(await api.read(ctx)).toBe('read');
      expect(host.calls('read')).toBe(1);
    });

    it('never retries a method that is not idempotent: the caller gets SERVICE_UNAVAILABLE', async () => {
      const { api } = clientOf([await deadUrl(), host.url], { retries: 2 });
      const error = await rejection(api.write(ctx));
      expect(hasCode(error, 'SERVICE_UNAVAILABLE')).toBe(true);
      expect((error as AppError).detail).toContain('fake');
      expect(host.calls('write')).toBe(0);
    });

    it('retries a 502 of the transport for idempotent methods only', async () => {
      const { api } = clientOf([host.url], { retries: 2 });
      host.state.down = true;
      expect(hasCode(await rejection(api.read(ctx)), 'SERVICE_UNAVAILABLE')).toBe(true);
      expect(host.state.hits).toBe(3);
      expect(hasCode(await rejection(api.write(ctx)), 'SERVICE_UNAVAILABLE')).toBe(true);
      expect(host.state.hits).toBe(4);
    });
  });

  describe('the circuit breaker', () => {
    const breaker = { threshold: 3, halfOpenAfterMs: 10_000 };

    it('opens after the threshold of transport failures, answers 503 without calling, then half-opens and closes', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      const lines: Array<Record<string, unknown>> = [];
      const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
      const client = clientOf([host.url], { breaker, retries: 0, log });
      host.state.down = true;
      for (let i = 0; i < 3; i++) await rejection(client.api.write(ctx));
      expect(host.state.hits).toBe(3);
      expect(client.breakerState()).toBe('open');
      await expect(client.check()).rejects.toSatisfy((e) => hasCode(e, 'SERVICE_UNAVAILABLE'));
      expect(lines).toContainEqual(
        expect.objectContaining({ module: 'fake', msg: 'circuit breaker opened' }),
      );

      host.state.down = false;
      const refused = await rejection(client.api.read(ctx));
      expect(hasCode(refused, 'SERVICE_UNAVAILABLE')).toBe(true);
      expect((refused as AppError).detail).toContain('fake');
      expect(host.state.hits).toBe(3);

      vi.advanceTimersByTime(breaker.halfOpenAfterMs);
      expect(client.breakerState()).toBe('half-open');
      await expect(client.check()).resolves.toBeUndefined();
      expect(await client.api.read(ctx)).toBe('read');
      expect(client.breakerState()).toBe('closed');
      expect(host.state.hits).toBe(4);
      expect(lines).toContainEqual(
        expect.objectContaining({ module: 'fake', msg: 'circuit breaker closed' }),
      );
    });

    it('opens again when the trial call of a half-open breaker fails', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      const client = clientOf([host.url], { breaker, retries: 0 });
      host.state.down = true;
      for (let i = 0; i < 3; i++) await rejection(client.api.write(ctx));
      vi.advanceTimersByTime(breaker.halfOpenAfterMs);
      await rejection(client.api.write(ctx));
      expect(host.state.hits).toBe(4);
      expect(client.breakerState()).toBe('open');
    });

    it('stays closed while one instance of two is down: calls retried on the other one succeed', async () => {
      const client = clientOf([await deadUrl(), host.url], { breaker, retries: 2 });
      // At once, so attempts on the dead instance fail one after another before any retry succeeds.
      const answers = await Promise.all(Array.from({ length: 10 }, () => client.api.read(ctx)));
      expect(answers).toEqual(Array.from({ length: 10 }, () => 'read'));
      expect(client.breakerState()).toBe('closed');
    });

    it('never counts domain errors, and counts faults of the module', async () => {
      const client = clientOf([host.url], { breaker, retries: 0 });
      for (let i = 0; i < 5; i++) await rejection(client.api.refuse(ctx));
      expect(client.breakerState()).toBe('closed');
      for (let i = 0; i < 3; i++) await rejection(client.api.crash(ctx));
      expect(client.breakerState()).toBe('open');
      expect(host.calls('crash')).toBe(3);
    });
  });

  describe('timeouts and the bulkhead', () => {
    it('aborts a call that outlives its timeout and raises TIMEOUT', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      const { api } = clientOf([host.url], { timeoutMs: 1_000, retries: 0 });
      let settled = false;
      const call = rejection(api.hang(ctx)).finally(() => {
        settled = true;
      });
      await host.state.entered.promise;
      await vi.advanceTimersByTimeAsync(999);
      expect(settled).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      const error = await call;
      expect(hasCode(error, 'TIMEOUT')).toBe(true);
      expect((error as AppError).status).toBe(504);
      // The request was aborted, not left running: its connection is gone.
      await host.state.abandoned.promise;
    });

    it('refuses a call over its limits with SERVICE_UNAVAILABLE, without calling', async () => {
      const { api } = clientOf([host.url], { bulkhead: { limit: 1, queue: 0 } });
      const first = api.hang(ctx);
      await host.state.entered.promise;
      const error = await rejection(api.read(ctx));
      expect(hasCode(error, 'SERVICE_UNAVAILABLE')).toBe(true);
      expect(host.calls('read')).toBe(0);
      host.state.release();
      expect(await first).toBe('late');
    });
  });
});
