import type { FastifyRequest } from 'fastify';
import type { CallContext } from '../context.ts';

/** The call context of a request: request id, verified actor, trace context. */
export function callContext(request: FastifyRequest): CallContext {
  const traceparent = request.headers.traceparent;
  return {
    requestId: request.id,
    ...(request.actor ? { actor: request.actor } : {}),
    ...(typeof traceparent === 'string' ? { traceparent } : {}),
  };
}
