import { randomUUID } from 'node:crypto';

/** Who is calling, as the edge verified it. */
export interface Actor {
  readonly id: string;
  readonly role: Role;
}

export type Role = 'customer' | 'admin';

/**
 * What rides along with every call and every event: the request id for logs, the verified actor,
 * and a W3C trace context, so a trace can follow a call over any transport.
 */
export interface CallContext {
  readonly requestId: string;
  readonly actor?: Actor;
  readonly traceparent?: string;
}

/** A context for work the system starts itself: recovery, sweeps, event handlers. */
export function systemContext(requestId: string = `sys-${randomUUID()}`, traceparent?: string): CallContext {
  return traceparent ? { requestId, traceparent } : { requestId };
}

export function isAdmin(ctx: CallContext): boolean {
  return ctx.actor?.role === 'admin';
}
