import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { isBrokenCircuitError } from 'cockatiel';
import type { Dispatcher } from 'undici';
import { type Actor, traceparentFrom } from '../context.ts';
import { platformErrors } from '../errors.ts';
import type { ApiVersion } from '../money.ts';
import { IDENTITY_HEADER } from '../rpc/identity.ts';
import { BrokenAnswerError, type Done, exchange, type UpstreamAnswer } from './exchange.ts';
import { type Instance, isTransportFailure, isUpstreamTimeout, type Upstream } from './upstreams.ts';

/** Headers never forwarded as the client sent them: hop-by-hop, identity, credentials, forwarding. */
const DROPPED = new Set([
  'host',
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  // The service trusts only the signed identity.
  'authorization',
  'cookie',
  // undici computes the length of the body it sends and refuses `expect`.
  'content-length',
  'expect',
  'forwarded',
  'x-real-ip',
  // Set by the gateway below.
  'x-request-id',
  'api-version',
  'traceparent',
]);

/** Prefixes of headers only the gateway may set, or that identify a user or role. */
function droppedByPrefix(name: string): boolean {
  const first = name.charCodeAt(0);
  if (first === 0x70 /* p */) return name.startsWith('proxy-');
  if (first !== 0x78 /* x */) return false;
  return (
    name.startsWith('x-splitshop-') ||
    name.startsWith('x-forwarded-') ||
    name.startsWith('x-user-') ||
    name.startsWith('x-role') ||
    name.startsWith('x-actor')
  );
}

/** Headers of an answer that belong to the connection to the service, not to the client's. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** Who sent a request, and how, as the gateway's edge knows it. */
export interface Caller {
  readonly headers: IncomingHttpHeaders;
  /** The address of the client's connection. */
  readonly address: string | undefined;
  readonly protocol: 'http' | 'https';
  readonly requestId: string;
  readonly apiVersion: ApiVersion;
}

/** A request the gateway forwards, as either path hands it over. */
export interface Forwarding {
  readonly method: string;
  /** The normal path, its query string (without `?`), and the service that owns the path. */
  readonly path: string;
  readonly query: string;
  readonly service: string;
  readonly actor: Actor | undefined;
  readonly body: Buffer | undefined;
  /** When the gateway took the request (epoch ms): its deadline counts from here. */
  readonly startedAt: number;
  readonly caller: Caller;
}

/** What the client hears: a status, the end-to-end headers, and the body (none for HEAD, 204, 304). */
export interface Answer {
  readonly status: number;
  readonly headers: OutgoingHttpHeaders;
  readonly body: Buffer | Readable | undefined;
}

export type Route = Pick<Forwarding, 'path' | 'query' | 'service'>;

/**
 * The headers a request carries to the service: the client's end-to-end headers, without the dropped
 * ones nor any named in its `Connection` header; `X-Forwarded-*` from the real connection; the
 * gateway's request id and API version; and `identity`, the signed call context.
 */
export function forwardedHeaders(
  caller: Caller,
  identity: string,
  dropConditional: boolean,
): Record<string, string | string[]> {
  const incoming = caller.headers;
  const out: Record<string, string | string[]> = {};
  const connection = incoming.connection;
  const named =
    connection !== undefined && connection !== 'keep-alive' && connection !== 'close'
      ? connection.toLowerCase().split(',')
      : undefined;
  for (const name in incoming) {
    if (DROPPED.has(name) || droppedByPrefix(name)) continue;
    if (named?.some((token) => token.trim() === name)) continue;
    if (dropConditional && name === 'if-none-match') continue;
    const value = incoming[name];
    if (value !== undefined) out[name] = value;
  }
  out['x-forwarded-for'] = caller.address ?? '';
  out['x-forwarded-proto'] = caller.protocol;
  if (incoming.host !== undefined) out['x-forwarded-host'] = incoming.host;
  out['x-request-id'] = caller.requestId;
  out['api-version'] = caller.apiVersion === 2 ? '2' : '1';
  // The client's trace context goes on when it is well formed; a malformed one would break the trace.
  const traceparent = traceparentFrom(incoming.traceparent);
  if (traceparent !== undefined) out.traceparent = traceparent;
  out[IDENTITY_HEADER] = identity;
  return out;
}

/** An answer's end-to-end headers, for the client. */
export function endToEndHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || name.startsWith('proxy-')) continue;
    const value = headers[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/** A request as it goes to a service: the body is buffered, so it can be sent again to another instance. */
export interface UpstreamRequest {
  readonly method: Dispatcher.HttpMethod;
  /** The normal path and the query string. */
  readonly path: string;
  readonly headers: Record<string, string | string[]>;
  readonly body: Buffer | undefined;
  /** Safe to send again after a transport failure: a read, or a write its service dedupes by `Idempotency-Key`. */
  readonly idempotent: boolean;
  /**
   * When (epoch ms) the client's time is up: every attempt waits for an instance only until then, so
   * retries cannot make the client wait past it and lose its connection instead of hearing 504.
   */
  readonly deadline?: number;
}

function unavailable(service: string, why: string, retryAfter: number) {
  return platformErrors.SERVICE_UNAVAILABLE(`The ${service} service is unavailable: ${why}`, {
    retry_after: retryAfter,
  });
}

const timedOut = (service: string) => platformErrors.TIMEOUT(`The ${service} service timed out`);

/** The problem a transport failure becomes: 504 when the instance was too slow, else 503. */
function failed(service: string, error: unknown) {
  if (isUpstreamTimeout(error)) return timedOut(service);
  return unavailable(service, 'it could not be reached', 1);
}

/**
 * Sends `request` to an instance of `upstream` through its circuit breaker. After a transport failure
 * (nothing of an answer arrived) an idempotent request is tried again on another instance, up to
 * `retries` times; any other is not, since the service may have acted on it. Ends with
 * `SERVICE_UNAVAILABLE` (with `extra.retry_after`) when no instance is available, the breaker is open or
 * the service cannot be reached, and `TIMEOUT` when it did not answer in time. An answer of any status
 * is handed on as it came.
 */
export function forward(
  upstream: Upstream,
  request: UpstreamRequest,
  options: { readonly retries: number; readonly breakerHalfOpenMs: number },
  done: Done<UpstreamAnswer>,
): void {
  let tried: Instance[] | undefined;
  let failure: unknown;
  const attempt = (retry: number): void => {
    const instance = upstream.pick(tried);
    if (instance === undefined) {
      // No other instance to try: the client hears about the failure there was.
      done(
        failure === undefined
          ? unavailable(upstream.service, 'no instance is available', 1)
          : failed(upstream.service, failure),
      );
      return;
    }
    const left = request.deadline === undefined ? undefined : request.deadline - Date.now();
    if (left !== undefined && left <= 0) {
      done(failure === undefined ? timedOut(upstream.service) : failed(upstream.service, failure));
      return;
    }
    const sent = left === undefined ? request : { ...request, headersTimeout: left };
    upstream.send<UpstreamAnswer>(
      (answered) => exchange(instance.pool, sent, answered),
      (error, answer) => {
        if (error === undefined) {
          if (answer!.statusCode >= 500) upstream.failed(instance);
          else upstream.succeeded(instance);
          done(undefined, answer);
          return;
        }
        if (isBrokenCircuitError(error)) {
          done(
            unavailable(
              upstream.service,
              'its circuit breaker is open',
              Math.ceil(options.breakerHalfOpenMs / 1000),
            ),
          );
          return;
        }
        const broken = error instanceof BrokenAnswerError;
        if (!broken && !isTransportFailure(error)) {
          done(error);
          return;
        }
        upstream.failed(instance);
        if (broken || !request.idempotent || retry >= options.retries) {
          done(failed(upstream.service, error));
          return;
        }
        failure = error;
        tried = tried === undefined ? [instance] : [...tried, instance];
        attempt(retry + 1);
      },
    );
  };
  attempt(0);
}
