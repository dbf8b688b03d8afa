import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Actor } from '../context.ts';
import { type AppError, isAppError } from '../errors.ts';
import { PROBLEM_CONTENT_TYPE, toProblem } from '../http/problem.ts';
import { type RateLimitOptions, rateHeadersFor, rateKeyOf } from '../http/rate-limit.ts';
import { type FastPath, hostCount, requestIdOf } from '../http/server.ts';
import { splitVersion, versionAsked } from '../http/versioning.ts';
import type { Done } from './exchange.ts';
import type { Answer, Caller, Forwarding, Route } from './proxy.ts';

export interface FastPathOptions {
  readonly app: FastifyInstance;
  readonly log: FastifyBaseLogger;
  readonly rateLimit: Pick<RateLimitOptions, 'max' | 'windowSeconds'>;
  /** Whether limits are meant to be shared (Redis configured): then unshared counts write no headers. */
  readonly sharedLimits: boolean;
  /** The normal path and owner of a URL, or why it has none. */
  routeOf(method: string, url: string): Route | AppError;
  answer(call: Forwarding, done: Done<Answer>): void;
  /** True once the gateway is shutting down: fastify answers those requests 503. */
  closing(): boolean;
  /** Counts the requests this path took. */
  readonly stats: FastPathStats;
}

/** What the fast path has done, for tests and metrics. */
export interface FastPathStats {
  /** Requests it took (and answered), as opposed to leaving them to fastify. */
  taken: number;
}

/** Headers every answer of the edge carries, as its onRequest hooks write them (`http/server.ts`). */
function edgeHeaders(requestId: string, version: 1 | 2): Record<string, string | number | string[]> {
  return { 'x-request-id': requestId, 'cache-control': 'no-store', 'api-version': version === 2 ? '2' : '1' };
}

/** pino's level check; the fastify logger type does not declare it. */
function infoEnabled(log: FastifyBaseLogger): boolean {
  return (log as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled?.('info') ?? true;
}

/** Bodies up to this size go out in one write with the head; larger ones as their own buffer. */
const ONE_WRITE_LIMIT = 16 * 1024;

/**
 * Ends `res` with `body`. Node writes the head and a Buffer body as two chunks of one `writev`, but
 * prepends the head to a string body and writes once; as latin1 every byte maps to one character and
 * back, so a small body goes out unchanged in one plain write, which is cheaper.
 */
function endWhole(res: ServerResponse, body: Buffer): void {
  if (body.length <= ONE_WRITE_LIMIT) res.end(body.toString('latin1'), 'latin1');
  else res.end(body);
}

/** Whether a request says it has a body: a write, or anything with `Content-Length` > 0 or chunked. */
function hasBody(headers: IncomingHttpHeaders): boolean {
  const length = headers['content-length'];
  return (length !== undefined && length !== '0') || headers['transfer-encoding'] !== undefined;
}

/**
 * The gateway's path for the requests that make up most of its traffic: a `GET` or `HEAD` for a path a
 * service owns, without a body, from a client with no token or one this edge has already verified,
 * whose count is far from its rate limit. It does what the edge's hooks and the proxy route do for such
 * a request (request id, version, identity, count and `RateLimit` headers, forwarding, problem documents
 * for failed services) without fastify's per-request work, which costs as much as the hop itself.
 *
 * Everything else, and every refusal the edge decides (a token to verify or refuse, a path to refuse, a
 * count near or over its limit, a version to refuse, shutdown), is left untouched to fastify, before
 * anything is counted; so both paths answer alike, which `fast-path.test.ts` checks.
 */
export function createFastPath(options: FastPathOptions): FastPath {
  const { app, log, rateLimit } = options;
  const counts = app.rateCounts;
  const rateHeaders = rateHeadersFor(rateLimit);
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    const method = req.method;
    if ((method !== 'GET' && method !== 'HEAD') || hasBody(req.headers) || options.closing()) return false;
    const raw = req.url ?? '/';
    if (raw.includes('%00') || hostCount(req) > 1) return false;
    const headers = req.headers;
    const split = splitVersion(raw);
    const version = versionAsked(split.version, headers['api-version']);
    if (version === undefined) return false;
    const route = options.routeOf(method, split.url);
    if ('code' in route) return false;
    let actor: Actor | undefined;
    if (headers.authorization !== undefined) {
      actor = app.verifiedActor(headers.authorization, req.socket);
      if (actor === undefined) return false;
    }
    const address = req.socket.remoteAddress;
    const counted = counts.take(rateKeyOf(actor, address));
    if (counted === undefined) return false;

    options.stats.taken++;
    const startedAt = Date.now();
    const requestId = requestIdOf(req);
    // Logged as fastify logs a request (its default serializer), so a log reads the same whichever path took it.
    const logging = infoEnabled(log);
    const began = logging ? performance.now() : 0;
    if (logging)
      log.info(
        {
          request_id: requestId,
          req: {
            method,
            url: raw,
            host: headers.host,
            remoteAddress: address,
            remotePort: req.socket.remotePort,
          },
        },
        'incoming request',
      );
    const edge = edgeHeaders(requestId, version);
    if (!options.sharedLimits || counts.shared())
      Object.assign(edge, rateHeaders(counted.current, counted.ttl));
    const caller: Caller = {
      headers,
      address,
      protocol: (req.socket as TLSSocket).encrypted ? 'https' : 'http',
      requestId,
      apiVersion: version,
    };
    options.answer({ ...route, method, actor, body: undefined, startedAt, caller }, (error, answer) => {
      if (error !== undefined) {
        const problem = toProblem(error);
        if (problem.status >= 500) log.error({ err: error, request_id: requestId }, 'request failed');
        const retryAfter = isAppError(error) ? error.extra.retry_after : undefined;
        if (problem.status === 503 || problem.status === 429)
          edge['retry-after'] = typeof retryAfter === 'number' ? retryAfter : 1;
        const body = JSON.stringify({ ...problem, request_id: requestId });
        edge['content-type'] = `${PROBLEM_CONTENT_TYPE}; charset=utf-8`;
        edge['content-length'] = Buffer.byteLength(body);
        res.writeHead(problem.status, edge);
        res.end(body);
        logCompleted(problem.status);
        return;
      }
      const { status, body } = answer!;
      const headers = Object.assign(edge, answer!.headers);
      if (Buffer.isBuffer(body) && headers['content-length'] === undefined)
        headers['content-length'] = body.length;
      res.writeHead(status, headers);
      if (body === undefined) res.end();
      else if (Buffer.isBuffer(body)) endWhole(res, body);
      else pipeline(body, res, () => undefined);
      logCompleted(res.statusCode);
    });
    function logCompleted(statusCode: number) {
      if (logging)
        log.info(
          { request_id: requestId, res: { statusCode }, responseTime: performance.now() - began },
          'request completed',
        );
    }
    return true;
  };
}
