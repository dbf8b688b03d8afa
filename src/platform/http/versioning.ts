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
  const url = req.url ?? '/';
  const match = /^\/v([12])(?=\/|\?|$)/.exec(url);
  if (!match) return url;
  (req as Tagged)[PATH_VERSION] = Number(match[1]) as ApiVersion;
  const rest = url.slice(match[0].length);
  return rest.startsWith('/') ? rest : `/${rest}`;
}

/** Sets `request.apiVersion` from the path or the `API-Version` header, and answers with it. */
export function installVersioning(app: FastifyInstance): void {
  app.decorateRequest('apiVersion', 1);
  // A callback hook: it runs on every request and has nothing to wait for.
  app.addHook('onRequest', (request, reply, done) => {
    const fromPath = (request.raw as Tagged)[PATH_VERSION];
    const header = request.headers['api-version'];
    let version: ApiVersion = fromPath ?? 1;
    if (fromPath === undefined && header !== undefined) {
      if (header !== '1' && header !== '2') {
        reply.header('api-version', '1');
        done(platformErrors.UNSUPPORTED_API_VERSION(`API-Version must be 1 or 2`));
        return;
      }
      version = Number(header) as ApiVersion;
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
