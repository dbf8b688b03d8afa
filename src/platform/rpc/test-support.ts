import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import type { CallContext } from '../context.ts';
import { defineErrors } from '../errors.ts';
import { createEdge } from '../http/server.ts';
import type { MethodNames } from '../in-process.ts';
import { createInternalAuth } from './identity.ts';
import { rpcRoutes } from './server.ts';

/** A tiny contract, standing for any module's. */
export interface FakeApi {
  echo(ctx: CallContext, value: unknown, more: unknown): Promise<unknown>;
  whoami(ctx: CallContext): Promise<CallContext>;
  nothing(ctx: CallContext): Promise<void>;
  refuse(ctx: CallContext): Promise<never>;
  crash(ctx: CallContext): Promise<never>;
  read(ctx: CallContext): Promise<string>;
  write(ctx: CallContext): Promise<string>;
  hang(ctx: CallContext): Promise<string>;
}
export const methods = [
  'echo',
  'whoami',
  'nothing',
  'refuse',
  'crash',
  'read',
  'write',
  'hang',
] as const satisfies MethodNames<FakeApi>;
export const idempotent = [
  'echo',
  'whoami',
  'refuse',
  'read',
  'hang',
] as const satisfies MethodNames<FakeApi>;

export const fakeErrors = defineErrors({ OUT_OF_STOCK: { status: 409, title: 'Not enough stock' } });
const SECRET = 'rpc-test-internal-secret-0123456789abcdef';
/** The internal credential of the fake module's host and its clients. */
export const auth = createInternalAuth(SECRET);
export const silent = pino({ level: 'silent' });
/** Requests per minute the host's edge allows a public caller. */
export const PUBLIC_RATE_LIMIT = 3;

/** One fake module on a real edge on an ephemeral port, counting the calls its api receives. */
export async function startHost() {
  const calls = new Map<string, number>();
  const state = {
    hits: 0,
    down: false,
    release: () => {},
    entered: Promise.withResolvers<void>(),
    /** Resolves when the connection of a `hang` call closes: the caller gave up on it. */
    abandoned: Promise.withResolvers<void>(),
  };
  const count = (name: string) => calls.set(name, (calls.get(name) ?? 0) + 1);
  const api: FakeApi = {
    async echo(_ctx, value, more) {
      count('echo');
      return { value, more };
    },
    async whoami(received) {
      count('whoami');
      return received;
    },
    async nothing() {
      count('nothing');
    },
    async refuse() {
      count('refuse');
      throw fakeErrors.OUT_OF_STOCK('Product p1 has 2 left', {
        order_id: 'o-1',
        errors: [{ path: '/body/items/0', message: 'too many' }],
      });
    },
    async crash() {
      count('crash');
      throw new Error('secret internal detail');
    },
    async read() {
      count('read');
      return 'read';
    },
    async write() {
      count('write');
      return 'written';
    },
    async hang() {
      count('hang');
      state.entered.resolve();
      await new Promise<void>((resolve) => {
        state.release = resolve;
      });
      return 'late';
    },
  };
  const app: FastifyInstance = await createEdge({
    log: silent,
    bodyLimitBytes: 65_536,
    requestTimeoutMs: 10_000,
    auth: {
      secret: 'rpc-test-public-jwt-secret-0123456789abcdef',
      ttlSeconds: 900,
      issuer: 'splitshop',
      audience: 'splitshop-api',
      clockSkewSeconds: 0,
    },
    // Far below what the tests send: internal routes must not be held to the public limit.
    rateLimit: { max: PUBLIC_RATE_LIMIT, windowSeconds: 60 },
  });
  // Stands for a proxy or a closing server in front of the module: a 502 that is not a problem document.
  app.addHook('onRequest', async (request, reply) => {
    state.hits += 1;
    if (request.url.endsWith('/hang')) request.raw.socket.once('close', () => state.abandoned.resolve());
    if (state.down) return reply.code(502).type('text/html').send('<html>Bad Gateway</html>');
  });
  await app.register(rpcRoutes({ module: 'fake', api, methods, auth }));
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    url,
    state,
    calls: (name: keyof FakeApi) => calls.get(name) ?? 0,
    async close() {
      state.release();
      await app.close();
    },
  };
}

/** A base URL where nothing listens: the port of a server that was just closed. */
export async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

export type Host = Awaited<ReturnType<typeof startHost>>;
