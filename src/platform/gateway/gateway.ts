import type { Readable } from 'node:stream';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type { Dispatcher } from 'undici';
import type { InstanceSource } from '../discovery/instances.ts';
import { type AppError, isAppError, platformErrors } from '../errors.ts';
import { healthRoutes } from '../http/health.ts';
import { createEdge, type EdgeOptions } from '../http/server.ts';
import type { InternalAuth } from '../rpc/identity.ts';
import {
  CACHED_HEADERS,
  type CachedResponse,
  createEdgeCache,
  type EdgeCache,
  type EdgeCacheOptions,
  isProductPath,
  noneMatch,
  productIdOf,
  storable,
} from './cache.ts';
import { type Done, promised, readAll } from './exchange.ts';
import { createFastPath, type FastPathStats } from './fast-path.ts';
import { gatewayChecks } from './health.ts';
import { createOpenApiMerger } from './openapi.ts';
import { normalizePath } from './paths.ts';
import {
  type Answer,
  endToEndHeaders,
  type Forwarding,
  forward,
  forwardedHeaders,
  type Route,
} from './proxy.ts';
import { compileRoutes, type GatewayRoute } from './routes.ts';
import {
  createUpstreams,
  DEFAULT_UPSTREAM_OPTIONS,
  isUpstreamTimeout,
  type UpstreamOptions,
} from './upstreams.ts';

export interface GatewayOptions {
  readonly log: FastifyBaseLogger;
  /** The public edge: body and time limits, token verification, rate limits, the document's title. */
  readonly edge: Pick<EdgeOptions, 'bodyLimitBytes' | 'requestTimeoutMs' | 'auth' | 'title'> & {
    readonly rateLimit: NonNullable<EdgeOptions['rateLimit']>;
  };
  /** Which service owns which path prefix; the longest matching prefix wins. */
  readonly routes: readonly GatewayRoute[];
  /** Where each service's instances are. */
  readonly services: Readonly<Record<string, InstanceSource>>;
  /** Signs the identity every forwarded request carries. */
  readonly internalAuth: InternalAuth;
  /** Shares rate limits with the other gateway instances; see `RateLimitOptions.redis`. */
  readonly redis?: Redis;
  /** The cache of public product reads: on by default (10 000 answers, 1 s); `false` turns it off. */
  readonly cache?: Pick<EdgeCacheOptions, 'maxEntries' | 'ttlMs'> | false;
  readonly upstream?: Partial<UpstreamOptions>;
  /**
   * The writes whose service honours an `Idempotency-Key` (API.md: `POST /orders`), by method and normal
   * path. With the key, only these are sent to another instance after a transport failure: any other
   * write may have been acted on, and nothing would stop a second instance acting on it again. Default none.
   */
  readonly keyedWrites?: ReadonlyArray<{ readonly method: string; readonly path: string }>;
  /**
   * Plain proxied reads skip fastify's request lifecycle (`fast-path.ts`); on by default. `false` sends
   * every request through fastify, as tests do to show both paths answer alike.
   */
  readonly fastPath?: boolean;
}

/** The gateway's fastify instance, with its edge cache for the composition root's event subscription and its fast path's counts. */
export type Gateway = FastifyInstance & {
  readonly edgeCache: EdgeCache | undefined;
  readonly fastPathStats: FastPathStats;
};

const DEFAULT_CACHE = { maxEntries: 10_000, ttlMs: 1_000 };
const NO_BODY = new Set([204, 304]);
/** What the public API uses; TRACE, CONNECT and the WebDAV methods never reach a service. */
const PROXIED_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** Reads a streamed body whole; a service that stalls or breaks off in the middle is a 504 or a 503. */
async function readWhole(body: Buffer | Readable, service: string): Promise<Buffer> {
  try {
    return await readAll(body);
  } catch (error) {
    if (isUpstreamTimeout(error)) throw platformErrors.TIMEOUT(`The ${service} service timed out`);
    throw platformErrors.SERVICE_UNAVAILABLE(`The ${service} service broke off its answer`);
  }
}

/**
 * The public entry point of the split topology: the edge (request ids, versions, problem documents,
 * tokens verified once, rate limits), its own health and API document, and every other request
 * forwarded to the service that owns its path, with the caller's verified identity signed.
 */
export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const upstreamOptions: UpstreamOptions = { ...DEFAULT_UPSTREAM_OPTIONS, ...options.upstream };
  const services = Object.keys(options.services);
  for (const route of options.routes) {
    if (!(route.service in options.services))
      throw new Error(`Route ${route.prefix} names the unknown service ${route.service}`);
  }
  const routes = compileRoutes(options.routes);
  const upstreams = createUpstreams(options.services, upstreamOptions, { log: options.log });
  const cache = options.cache === false ? undefined : createEdgeCache({ ...DEFAULT_CACHE, ...options.cache });
  const { internalAuth } = options;
  const keyedWrites = new Set((options.keyedWrites ?? []).map((w) => `${w.method} ${w.path}`));

  const fastPathStats: FastPathStats = { taken: 0 };
  const app = await createEdge({
    ...options.edge,
    log: options.log,
    rateLimit: { ...options.edge.rateLimit, ...(options.redis ? { redis: options.redis } : {}) },
    openapiDocument: createOpenApiMerger({ services, routes, upstreams, internalAuth }),
    ...(options.fastPath === false
      ? {}
      : {
          fastPath: (edge) =>
            createFastPath({
              app: edge,
              log: options.log,
              rateLimit: options.edge.rateLimit,
              sharedLimits: options.redis !== undefined,
              routeOf,
              answer,
              closing: () => closing,
              stats: fastPathStats,
            }),
        }),
  });
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.decorate('edgeCache', cache);
  app.decorate('fastPathStats', fastPathStats);
  app.addHook('onReady', async () => upstreams.start());
  app.addHook('onClose', () => upstreams.close());
  await app.register(healthRoutes, {
    checks: gatewayChecks({ upstreams, services, ...(options.redis ? { redis: options.redis } : {}) }),
  });

  /** What a request is answered, from the edge cache or from the service that owns its path. */
  function answer(call: Forwarding, done: Done<Answer>): void {
    const { method, path, query, service } = call;
    const key = cache?.keyOf(method, path, query, call.caller.apiVersion);
    let ticket = 0;
    if (key !== undefined) {
      const hit = cache!.get(key);
      if (hit !== undefined) {
        done(undefined, cachedAnswer(call, hit));
        return;
      }
      ticket = cache!.ticket();
    }
    const identity = internalAuth.sign(call.actor);
    const write = method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS';
    const request = {
      method: method as Dispatcher.HttpMethod,
      path: query === '' ? path : `${path}?${query}`,
      // A cacheable read asks for the whole answer: the gateway answers If-None-Match itself.
      headers: forwardedHeaders(call.caller, identity, key !== undefined),
      body: call.body,
      idempotent:
        !write ||
        (call.caller.headers['idempotency-key'] !== undefined && keyedWrites.has(`${method} ${path}`)),
      deadline: call.startedAt + upstreamOptions.timeoutMs,
    };
    forward(upstreams.get(service)!, request, upstreamOptions, (error, upstream) => {
      // Whatever a write to a product answered, it may have changed it: drop it before anyone hears back.
      if (write && cache !== undefined && isProductPath(path)) cache.invalidateProduct(productIdOf(path));
      if (error !== undefined) {
        done(error);
        return;
      }
      const { statusCode, headers, body } = upstream!;
      if (key !== undefined && storable(statusCode, headers)) {
        readWhole(body, service).then((whole) => {
          const cached: CachedResponse = {
            status: statusCode,
            headers: Object.fromEntries(
              CACHED_HEADERS.flatMap((name) => {
                const value = headers[name];
                return typeof value === 'string' ? [[name, value]] : [];
              }),
            ),
            body: whole,
          };
          cache!.set(key, ticket, cached);
          done(undefined, cachedAnswer(call, cached));
        }, done);
        return;
      }
      if (method === 'HEAD' || NO_BODY.has(statusCode)) {
        if (!Buffer.isBuffer(body)) body.resume();
        done(undefined, { status: statusCode, headers: endToEndHeaders(headers), body: undefined });
        return;
      }
      done(undefined, { status: statusCode, headers: endToEndHeaders(headers), body });
    });
  }

  function cachedAnswer(call: Forwarding, cached: CachedResponse): Answer {
    if (noneMatch(call.caller.headers['if-none-match'], cached.headers.etag))
      return { status: 304, headers: cached.headers, body: undefined };
    return { status: cached.status, headers: cached.headers, body: cached.body };
  }

  /** Where a path goes: its normal form, and the service that owns it. */
  function routeOf(method: string, url: string): Route | AppError {
    const mark = url.indexOf('?');
    const normal = normalizePath(mark === -1 ? url : url.slice(0, mark));
    if (!normal.ok) return platformErrors.VALIDATION_FAILED(normal.reason);
    const service = routes.lookup(normal.path);
    if (service === undefined) return platformErrors.NOT_FOUND(`No route for ${method} ${normal.path}`);
    return { path: normal.path, query: mark === -1 ? '' : url.slice(mark + 1), service };
  }

  async function proxy(request: FastifyRequest, reply: FastifyReply) {
    const route = routeOf(request.method, request.raw.url ?? '/');
    if (isAppError(route)) throw route;
    let answered: Answer;
    try {
      answered = await promised<Answer>((done) =>
        answer(
          {
            ...route,
            method: request.method,
            actor: request.actor,
            body: request.body as Buffer | undefined,
            startedAt: Date.now() - reply.elapsedTime,
            caller: {
              headers: request.headers,
              address: request.socket.remoteAddress,
              protocol: request.protocol,
              requestId: request.id,
              apiVersion: request.apiVersion,
            },
          },
          done,
        ),
      );
    } catch (error) {
      if (isAppError(error) && typeof error.extra.retry_after === 'number')
        reply.header('retry-after', error.extra.retry_after);
      throw error;
    }
    reply.headers(answered.headers);
    reply.code(answered.status);
    return answered.body === undefined ? reply.send() : reply.send(answered.body);
  }

  // Encapsulated, so only the catch-all takes bodies as they came: the service parses and validates them.
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    scope.route({ method: PROXIED_METHODS, url: '/*', schema: { hide: true }, handler: proxy });
  });
  return app as Gateway;
}
