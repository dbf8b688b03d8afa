import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { type AuthOptions, authPlugin } from '../auth/jwt.ts';
import { installProblemHandlers } from './problem.ts';
import { type RateLimitOptions, rateLimitPlugin } from './rate-limit.ts';
import { installVersioning, rewriteVersionedUrl } from './versioning.ts';

export interface EdgeOptions {
  readonly log: FastifyBaseLogger;
  readonly bodyLimitBytes: number;
  readonly requestTimeoutMs: number;
  readonly auth: AuthOptions;
  readonly rateLimit: RateLimitOptions;
  readonly title?: string;
}

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Bodies are never coerced: `"1"` is not a number. Query strings and params are text, so they are. */
function createValidators() {
  const options = { allErrors: false, removeAdditional: false, useDefaults: true, strict: false } as const;
  const body = new Ajv({ ...options, coerceTypes: false });
  const text = new Ajv({ ...options, coerceTypes: true });
  for (const ajv of [body, text]) addFormats.default(ajv);
  return { body, text };
}

/**
 * The edge every process serves: request ids, versioning, problem documents, token verification,
 * rate limits, body and time limits, and the OpenAPI document. Module route plugins are registered on it.
 */
export async function createEdge(options: EdgeOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.log,
    requestIdHeader: false,
    logController: new LogController({ requestIdLogLabel: 'request_id' }),
    genReqId: (req) => {
      const sent = req.headers['x-request-id'];
      return typeof sent === 'string' && SANE_REQUEST_ID.test(sent) ? sent : randomUUID();
    },
    bodyLimit: options.bodyLimitBytes,
    requestTimeout: options.requestTimeoutMs,
    connectionTimeout: options.requestTimeoutMs,
    keepAliveTimeout: 5000,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    rewriteUrl: rewriteVersionedUrl,
    routerOptions: { maxParamLength: 200 },
  });
  // The API speaks JSON only: any other body type is a 415, not a string handed to a JSON schema.
  app.removeContentTypeParser('text/plain');
  const validators = createValidators();
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? validators.body : validators.text).compile(schema as object),
  );
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  installProblemHandlers(app);
  installVersioning(app);
  await app.register(authPlugin, options.auth);
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
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}
