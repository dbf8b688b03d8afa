import { randomUUID } from 'node:crypto';

/** Who is calling, as the edge verified it. */
export interface Actor {
  readonly id: string;
  /** As the token says; admin routes and the users module act on the role the user has now. */
  readonly role: Role;
  /** The session version the token was issued at (`ver`); a role or password change ends it. 0 when absent. */
  readonly sessionVersion?: number;
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

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** A W3C `traceparent` header value, if `value` is a well-formed one. */
export function traceparentFrom(value: unknown): string | undefined {
  return typeof value === 'string' && TRACEPARENT.test(value) ? value : undefined;
}

export function isAdmin(ctx: CallContext): boolean {
  return ctx.actor?.role === 'admin';
}
