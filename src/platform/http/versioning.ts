import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { platformErrors } from '../errors.ts';
import type { ApiVersion } from '../money.ts';

const PATH_VERSION = Symbol('splitshop.pathVersion');
type Tagged = IncomingMessage & { [PATH_VERSION]?: ApiVersion };

/**
 * Strips a `/v1` or `/v2` prefix before routing, so one route table serves every version, and remembers
 * which version the path asked for. Use as fastify's `rewriteUrl`.
 */
export function rewriteVersionedUrl(req: IncomingMessage): string {
  const { version, url } = splitVersion(req.url ?? '/');
  if (version !== undefined) (req as Tagged)[PATH_VERSION] = version;
  return url;
}

/** The version a URL's `/v1` or `/v2` prefix asks for, if any, and the URL without it. */
export function splitVersion(url: string): {
  readonly version: ApiVersion | undefined;
  readonly url: string;
} {
  const match = /^\/v([12])(?=\/|\?|$)/.exec(url);
  if (!match) return { version: undefined, url };
  const rest = url.slice(match[0].length);
  return { version: Number(match[1]) as ApiVersion, url: rest.startsWith('/') ? rest : `/${rest}` };
}

/**
 * The version a request asks for: its path's, else its `API-Version` header's, else 1; `undefined` when
 * the header names no version this API has.
 */
export function versionAsked(fromPath: ApiVersion | undefined, header: string | string[] | undefined) {
  if (fromPath !== undefined || header === undefined) return fromPath ?? 1;
  return header === '1' ? 1 : header === '2' ? 2 : undefined;
}

/** Sets `request.apiVersion` from the path or the `API-Version` header, and answers with it. */
export function installVersioning(app: FastifyInstance): void {
  app.decorateRequest('apiVersion', 1);
  // A callback hook: it runs on every request and has nothing to wait for.
  app.addHook('onRequest', (request, reply, done) => {
    const version = versionAsked((request.raw as Tagged)[PATH_VERSION], request.headers['api-version']);
    if (version === undefined) {
      reply.header('api-version', '1');
      done(platformErrors.UNSUPPORTED_API_VERSION(`API-Version must be 1 or 2`));
      return;
    }
    request.apiVersion = version;
    reply.header('api-version', version === 2 ? '2' : '1');
    done();
  });
}

declare module 'fastify' {
  interface FastifyRequest {
    apiVersion: ApiVersion;
  }
}
