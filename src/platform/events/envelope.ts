import type { CallContext } from '../context.ts';
import { newId } from '../ids.ts';

/**
 * An event as it travels between modules, over the in-memory bus or AMQP alike.
 * `id` is unique and stable across redeliveries: consumers deduplicate on it.
 */
export interface EventEnvelope<T = unknown> {
  readonly id: string;
  /** `<module>.<event>`, e.g. `orders.order_confirmed`. */
  readonly type: string;
  /** The publishing module. */
  readonly source: string;
  readonly occurred_at: string;
  readonly data: T;
  readonly request_id?: string;
  /** W3C trace context of the work that raised the event. */
  readonly traceparent?: string;
}

/**
 * A map of event type to payload, as each module's contract declares its events. `object` rather than
 * `Record<string, unknown>`, so a contract's events may be an interface (interfaces have no index signature).
 */
export type EventMap = object;

export function createEnvelope<T>(
  source: string,
  type: string,
  data: T,
  ctx?: CallContext,
): EventEnvelope<T> {
  return {
    id: newId(),
    type,
    source,
    occurred_at: new Date().toISOString(),
    data,
    ...(ctx?.requestId ? { request_id: ctx.requestId } : {}),
    ...(ctx?.traceparent ? { traceparent: ctx.traceparent } : {}),
  };
}
