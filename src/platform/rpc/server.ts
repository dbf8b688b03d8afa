import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { verifiedIdentity } from '../auth/jwt.ts';
import { type CallContext, traceparentFrom } from '../context.ts';
import { isAppError, platformErrors } from '../errors.ts';
import type { MethodNames } from '../in-process.ts';
import type { InternalAuth } from './identity.ts';

/** No contract method takes more than a few arguments after `ctx`; the services validate each one. */
export const MAX_RPC_ARGS = 4;

/** The path a module's method is served on, and the one its HTTP client calls. */
export const rpcPath = (module: string, method: string): string => `/internal/${module}/${method}`;

/** What a caller sends: the method's arguments after `ctx`, as JSON. */
export interface RpcRequest {
  readonly args: unknown[];
}

/** What a successful call answers; a failed one answers the problem document of its AppError. */
export interface RpcAnswer {
  readonly result: unknown;
}

export interface RpcRoutesOptions<Api> {
  readonly module: string;
  readonly api: Api;
  readonly methods: MethodNames<Api>;
  readonly auth: InternalAuth;
}

const bodySchema = {
  type: 'object',
  required: ['args'],
  properties: { args: { type: 'array', maxItems: MAX_RPC_ARGS } },
  additionalProperties: false,
} as const;

/**
 * Serves a module's contract to other Splitshop processes: `POST /internal/<module>/<method>` with
 * `{ "args": [...] }` answers `{ "result": … }`, or the problem document of the AppError the method
 * raised (rendered by the app's error handler, so code, status and extra fields travel). Every request
 * must carry a valid `x-splitshop-identity` header, checked before the body is read: it is both the
 * internal credential and the caller's context. An encapsulated plugin; register it on the edge.
 */
export function rpcRoutes<Api extends object>(options: RpcRoutesOptions<Api>): FastifyPluginAsync {
  const { module, api, auth } = options;
  const served = new Set<string>(options.methods);
  for (const name of served) {
    if (typeof (api as Record<string, unknown>)[name] !== 'function') {
      throw new Error(`${module}.${name} is not a method of the api it serves`);
    }
  }

  return async (app) => {
    const contexts = new WeakMap<FastifyRequest, CallContext>();
    // Everything below applies to this module's internal routes only (the plugin is encapsulated).
    app.addHook('onRequest', async (request) => {
      // The edge's auth hook verified this request's identity already; this takes what it found.
      const verified = verifiedIdentity(request.raw, auth);
      if (isAppError(verified)) throw verified;
      const { actor } = verified;
      const traceparent = traceparentFrom(request.headers.traceparent);
      contexts.set(request, {
        requestId: request.id,
        ...(actor ? { actor } : {}),
        ...(traceparent ? { traceparent } : {}),
      });
    });

    app.post<{ Params: { method: string }; Body: RpcRequest }>(
      rpcPath(module, ':method'),
      // Rate limits guard the public edge; internal callers hold the secret and are limited upstream.
      { schema: { hide: true, body: bodySchema }, config: { rateLimit: false } },
      async (request): Promise<RpcAnswer> => {
        const { method } = request.params;
        if (!served.has(method)) throw platformErrors.NOT_FOUND(`${module} has no method ${method}`);
        const ctx = contexts.get(request);
        if (!ctx) throw platformErrors.UNAUTHORIZED('The internal credential is missing');
        const fn = (api as Record<string, (...args: unknown[]) => Promise<unknown>>)[method]!;
        const result = await fn.call(api, ctx, ...request.body.args);
        return { result: result === undefined ? null : result };
      },
    );
  };
}
