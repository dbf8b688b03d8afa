import Emittery from 'emittery';
import type { EventBus, EventHandler, SubscribeOptions } from './bus.ts';
import type { EventEnvelope } from './envelope.ts';

/**
 * The in-process bus. `publish` resolves only after every subscriber has committed, and rejects if any
 * failed, so the relay keeps the outbox row and delivers it again: at least once, as over AMQP.
 */
export function createMemoryBus(): EventBus {
  const emitter = new Emittery<Record<string, EventEnvelope>>();
  const consumers = new Set<string>();
  let closed = false;
  return {
    kind: 'memory',
    async publish(event) {
      if (closed) throw new Error('The event bus is closed');
      await emitter.emit(event.type, event);
    },
    // In one process every subscription lives as long as the bus, so `durable` changes nothing.
    async subscribe(consumer, types, handler: EventHandler, _options?: SubscribeOptions) {
      if (consumers.has(consumer)) throw new Error(`Consumer ${consumer} is already subscribed`);
      consumers.add(consumer);
      for (const type of types) emitter.on(type, ({ data }) => handler(data));
    },
    async check() {
      if (closed) throw new Error('The event bus is closed');
    },
    async close() {
      closed = true;
      emitter.clearListeners();
    },
  };
}
