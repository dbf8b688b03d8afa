import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isDatabaseUnavailable } from '../db/errors.ts';
import { isAppError, platformErrors } from '../errors.ts';
import { lingerOnBody } from './linger.ts';

/** An RFC 9457 problem document as Splitshop writes it. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  code: string;
  request_id?: string;
  errors?: Array<{ path: string; message: string }>;
  [extra: string]: unknown;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export function problemType(code: string): string {
  return `urn:splitshop:problem:${code.toLowerCase().replaceAll('_', '-')}`;
}

const FASTIFY_CODES: Record<string, keyof typeof platformErrors> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_FAILED',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'VALIDATION_FAILED',
  FST_ERR_CTP_INVALID_JSON_BODY: 'VALIDATION_FAILED',
  FST_ERR_BAD_URL: 'VALIDATION_FAILED',
  FST_ERR_MAX_PARAM_LENGTH: 'URI_TOO_LONG',
};

/** Turns anything thrown into a problem document; a 5xx never carries the internal message. */
export function toProblem(error: unknown): Problem {
  if (isAppError(error)) {
    const { errors, ...extra } = error.extra as { errors?: Problem['errors'] };
    return {
      ...extra,
      type: problemType(error.code),
      title: error.title,
      status: error.status,
      ...(error.detail && error.status < 500 ? { detail: error.detail } : {}),
      code: error.code,
      ...(errors ? { errors } : {}),
    };
  }
  const fastifyError = error as Partial<FastifyError> & { validation?: unknown };
  if (Array.isArray(fastifyError.validation)) {
    const context = (fastifyError as { validationContext?: string }).validationContext ?? 'body';
    const errors = (
      fastifyError.validation as Array<{ instancePath?: string; message?: string; params?: unknown }>
    ).map((v) => ({ path: `/${context}${v.instancePath ?? ''}`, message: describe(v) }));
    return toProblem(
      platformErrors.VALIDATION_FAILED(errors.map((e) => `${e.path} ${e.message}`).join('; '), { errors }),
    );
  }
  const mapped = fastifyError.code ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (mapped) return toProblem(platformErrors[mapped](fastifyError.message));
  if (error instanceof SyntaxError || fastifyError.statusCode === 400) {
    return toProblem(platformErrors.VALIDATION_FAILED('The body is not valid JSON'));
  }
  const status = fastifyError.statusCode;
  if (status && status >= 400 && status < 500) {
    return toProblem(platformErrors.VALIDATION_FAILED(fastifyError.message));
  }
  if (isDatabaseUnavailable(error)) {
    return toProblem(platformErrors.SERVICE_UNAVAILABLE('A database this service needs is unavailable'));
  }
  return toProblem(platformErrors.INTERNAL());
}

function describe(v: { message?: string; params?: unknown }): string {
  const params = v.params as { additionalProperty?: string } | undefined;
  if (params?.additionalProperty) return `has an unknown or read-only field '${params.additionalProperty}'`;
  return v.message ?? 'is not valid';
}

/** Answers with a problem; one given before the body has all arrived reads the rest first (`linger.ts`). */
export function sendProblem(request: FastifyRequest, reply: FastifyReply, problem: Problem): FastifyReply {
  // Fastify asks to close after a body it refused part-way; lingering keeps the answer from a reset.
  if (lingerOnBody(request.raw)) reply.removeHeader('connection');
  return reply
    .status(problem.status)
    .type(PROBLEM_CONTENT_TYPE)
    .send({ ...problem, request_id: request.id });
}

/** Error and not-found handlers that answer every failure with a problem document. */
export function installProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    const problem = toProblem(error);
    if (problem.status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ code: problem.code, status: problem.status }, 'request refused');
    if (problem.status === 429 || problem.status === 503)
      reply.header('retry-after', reply.getHeader('retry-after') ?? 1);
    return sendProblem(request, reply, problem);
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      request,
      reply,
      // The path only: a query string may carry what the caller would not see echoed (or logged by a proxy).
      toProblem(platformErrors.NOT_FOUND(`No route for ${request.method} ${request.url.split('?')[0]}`)),
    ),
  );
}

/** Fastify's `frameworkErrors`: a URL the router cannot decode, or a parameter too long, is a problem too. */
export function answerFrameworkError(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  request.log.info({ code: error.code }, 'request refused');
  reply.header('x-request-id', request.id);
  sendProblem(request, reply, toProblem(error));
}

const CLIENT_ERRORS: Record<string, keyof typeof platformErrors> = {
  HPE_HEADER_OVERFLOW: 'HEADERS_TOO_LARGE',
  ERR_HTTP_REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
};

/**
 * Fastify's `clientErrorHandler`: what Node's parser refuses before there is a request (headers too large,
 * a client too slow, bytes that are not HTTP) is answered with a problem document, then the socket closes.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const requestId = randomUUID();
  const problem = toProblem(platformErrors[CLIENT_ERRORS[error.code ?? ''] ?? 'VALIDATION_FAILED']());
  const body = JSON.stringify({ ...problem, request_id: requestId });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status]}\r\n` +
        `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
