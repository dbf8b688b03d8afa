import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { type AuthPluginOptions, authPlugin } from '../auth/jwt.ts';
import { platformErrors } from '../errors.ts';
import type { InternalAuth } from '../rpc/identity.ts';
import { installJsonBodyParser } from './json-body.ts';
import { answerClientError, answerFrameworkError, installProblemHandlers } from './problem.ts';
import { type RateLimitOptions, rateLimitPlugin } from './rate-limit.ts';
import { installVersioning, rewriteVersionedUrl } from './versioning.ts';

export interface EdgeOptions {
  readonly log: FastifyBaseLogger;
  readonly bodyLimitBytes: number;
  readonly requestTimeoutMs: number;
  /** Token settings, and where sessions are checked (see `AuthPluginOptions.sessions`). */
  readonly auth: Omit<AuthPluginOptions, 'internalAuth'>;
  /** Required at a public edge; a process behind the gateway does not rate-limit (the gateway does). */
  readonly rateLimit?: RateLimitOptions;
  readonly title?: string;
  /**
   * Where the caller's identity comes from. `bearer` (the default): a public edge that verifies
   * `Authorization: Bearer` tokens and rate-limits. `internal`: a process behind the gateway, which takes
   * the actor, request id and trace context only from a valid signed `x-splitshop-identity` (refusing
   * any other request but health checks with 401), ignores `Authorization`, trusts the one
   * `X-Forwarded-For` hop the gateway writes, and does not rate-limit. Tokens are issued in both modes.
   */
  readonly identity?: 'bearer' | 'internal';
  /** Required when `identity` is `internal`. */
  readonly internalAuth?: InternalAuth;
  /**
   * Serves this document at `/openapi.json` and `/docs` instead of the one built from this process's
   * routes (`own`): the gateway serves the document of the services behind it.
   */
  readonly openapiDocument?: (own: object) => Promise<object>;
  /** Asked first for every request, once the edge is ready; fastify answers what it leaves. */
  readonly fastPath?: (app: FastifyInstance) => FastPath;
}

const KEEP_ALIVE_TIMEOUT_MS = 5_000;

/**
 * Request headers a public edge takes (Node's default, made explicit), answering more with 431. A
 * process behind the gateway takes twice as much: what the gateway took plus the identity, address and
 * trace headers it adds, so a request is refused at the edge or not at all, in every topology.
 */
export const HEADER_LIMIT_BYTES = { public: 16_384, internal: 32_768 } as const;

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The id a request goes by: a well-formed `X-Request-Id` it came with (the gateway's, behind it), else a new one. */
export function requestIdOf(req: IncomingMessage): string {
  const sent = req.headers['x-request-id'];
  return typeof sent === 'string' && SANE_REQUEST_ID.test(sent) ? sent : randomUUID();
}

/**
 * Takes a request before fastify routes it, and answers it whole; `false` leaves it to fastify untouched.
 * The gateway's path for plain proxied reads (see `gateway/fast-path.ts`).
 */
export type FastPath = (req: IncomingMessage, res: ServerResponse) => boolean;

/** How many Host headers a request came with. */
export function hostCount(req: IncomingMessage): number {
  let count = 0;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host') count++;
  }
  return count;
}

/** Bodies are never coerced: `"1"` is not a number. Query strings and params are text, so they are. */
function createValidators() {
  const options = { allErrors: false, removeAdditional: false, useDefaults: true, strict: false } as const;
  const body = new Ajv({ ...options, coerceTypes: false });
  const text = new Ajv({ ...options, coerceTypes: true });
  for (const ajv of [body, text]) addFormats.default(ajv);
  return { body, text };
}

/** How a number is written in a query string or path: decimal digits, a sign, and for a number a fraction. */
const WRITTEN = { integer: /^-?\d+$/, number: /^-?\d+(\.\d+)?$/ } as const;

/**
 * Ajv coerces any text JavaScript reads as a number: `0x10` is 16, `1e1` 10, ` 7 ` 7. Text parameters
 * declared as numbers must be written as decimals, or they are refused like any other invalid value
 * (with the same Ajv error shape, so the problem document lists them alike).
 */
function decimalsOnly(schema: object, validate: ValidateFunction): ValidateFunction {
  const properties = (schema as { properties?: Record<string, { type?: unknown }> }).properties ?? {};
  const numeric = Object.entries(properties).flatMap(([name, { type }]) =>
    type === 'integer' || type === 'number' ? [{ name, type, written: WRITTEN[type] }] : [],
  );
  if (numeric.length === 0) return validate;
  const checked = ((data: unknown) => {
    for (const { name, type, written } of numeric) {
      const value = (data as Record<string, unknown> | null)?.[name];
      if (typeof value !== 'string' || written.test(value)) continue;
      checked.errors = [
        {
          instancePath: `/${name}`,
          schemaPath: `#/properties/${name}/type`,
          keyword: 'type',
          params: { type },
          message: `must be written as a decimal ${type}`,
        },
      ];
      return false;
    }
    const valid = validate(data);
    checked.errors = validate.errors;
    return valid;
  }) as ValidateFunction;
  return checked;
}

/**
 * The edge every process serves: request ids, versioning, problem documents, token verification,
 * rate limits, body and time limits, and the OpenAPI document. Module route plugins are registered on it.
 */
export async function createEdge(options: EdgeOptions): Promise<FastifyInstance> {
  const internalAuth = options.identity === 'internal' ? options.internalAuth : undefined;
  if (options.identity === 'internal' && internalAuth === undefined)
    throw new Error('The internal identity mode needs internalAuth');
  if (internalAuth === undefined && options.rateLimit === undefined)
    throw new Error('A public edge needs rate limits');
  const connectionTimeoutMs = options.requestTimeoutMs + 5_000;
  const httpOptions = {
    maxHeaderSize: internalAuth === undefined ? HEADER_LIMIT_BYTES.public : HEADER_LIMIT_BYTES.internal,
    requestTimeout: options.requestTimeoutMs,
    connectionsCheckingInterval: Math.min(1_000, options.requestTimeoutMs),
  };
  // The server fastify would make, with the fast path asked first; it is built once the edge is ready.
  let fastPath: FastPath | undefined;
  const serveFastPathFirst = (handler: (req: IncomingMessage, res: ServerResponse) => void) => {
    const server = createServer(httpOptions, (req, res) => {
      fastPath ??= options.fastPath!(app);
      if (!fastPath(req, res)) handler(req, res);
    });
    server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    server.setTimeout(connectionTimeoutMs);
    return server;
  };
  const app: FastifyInstance = Fastify({
    loggerInstance: options.log,
    requestIdHeader: false,
    logController: new LogController({ requestIdLogLabel: 'request_id' }),
    // Behind the gateway this is the id it chose, so one id follows the request everywhere (a request
    // without a valid credential gets no further than the auth hook, which logs it under this id).
    genReqId: requestIdOf,
    // The gateway writes X-Forwarded-For from the client's connection: the login throttle needs that address.
    ...(internalAuth !== undefined ? { trustProxy: (_address: string, hop: number) => hop === 0 } : {}),
    bodyLimit: options.bodyLimitBytes,
    requestTimeout: options.requestTimeoutMs,
    // A socket idle while its request is still being worked on is cut only after the request's own time
    // limit, so a caller (the gateway) answers a slow request 504 instead of its client losing the connection.
    connectionTimeout: connectionTimeoutMs,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    // Given to Node at construction, or a body sent one byte at a time is never timed out; and Node looks
    // for requests past their limit every 30 s by default, which would give a slow client double.
    http: httpOptions,
    ...(options.fastPath !== undefined ? { serverFactory: serveFastPathFirst } : {}),
    clientErrorHandler: answerClientError,
    frameworkErrors: answerFrameworkError,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    rewriteUrl: rewriteVersionedUrl,
    routerOptions: { maxParamLength: 200 },
  });
  // The API speaks JSON only: any other body type is a 415, not a string handed to a JSON schema.
  app.removeContentTypeParser('text/plain');
  installJsonBodyParser(app);
  const validators = createValidators();
  app.setValidatorCompiler(({ schema, httpPart }) =>
    httpPart === 'body'
      ? validators.body.compile(schema as object)
      : decimalsOnly(schema as object, validators.text.compile(schema as object)),
  );
  // Callback hooks where there is nothing to wait for: an async hook costs a promise on every request.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    // Answers are personal unless their route says otherwise (public product reads do): no cache keeps them.
    reply.header('cache-control', 'no-store');
    // A NUL in a parameter is refused here, as the body parser refuses it: Postgres cannot store it.
    if (request.url.includes('%00')) done(platformErrors.VALIDATION_FAILED('The URL has a NUL character'));
    // Node keeps the first of two Host headers; a proxy in front may have read the other (RFC 9112: 400).
    else if (hostCount(request.raw) > 1)
      done(platformErrors.VALIDATION_FAILED('The request has two Host headers'));
    else done();
  });
  installProblemHandlers(app);
  installVersioning(app);
  await app.register(authPlugin, { ...options.auth, ...(internalAuth ? { internalAuth } : {}) });
  if (internalAuth === undefined && options.rateLimit !== undefined)
    await app.register(rateLimitPlugin, options.rateLimit);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: options.title ?? 'Splitshop API',
        version: '1.0.0',
        description:
          'Served under `/v1` and `/v2`; an unprefixed path is v1 unless the request says `API-Version: 2`. ' +
          'v1 writes money as a decimal number of major units, v2 as `{ amount_minor, currency }`. ' +
          'Errors are RFC 9457 problem documents with a stable `code`.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
  });
  const { openapiDocument } = options;
  if (openapiDocument === undefined) {
    await app.register(swaggerUi, { routePrefix: '/docs' });
    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
    return app;
  }
  // The page reads ./json synchronously: fetch the document first, then hand it over.
  let served: object | undefined;
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiHooks: {
      preHandler: async (request) => {
        if (/\/(json|yaml)$/.test(request.url)) served = await openapiDocument(app.swagger());
      },
    },
    transformSpecification: (own) => (served as typeof own | undefined) ?? own,
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => openapiDocument(app.swagger()));
  return app;
}
