import { EventEmitter } from 'node:events';
import type { Channel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createConfirmedPublisher, handleDelivery } from './amqp-channels.ts';
import { encodeEvent } from './amqp-topology.ts';
import { createEnvelope } from './envelope.ts';

const log = pino({ level: 'silent' });
const message = encodeEvent(createEnvelope('shop', 'shop.happened', { n: 1 }));

/** amqplib's confirm channel as far as publishing goes: it records each publish and its callback. */
class FakeConfirmChannel extends EventEmitter {
  readonly confirms: Array<(err: unknown) => void> = [];
  /** What `publish` returns: false when the write buffer is full. */
  writable = true;
  closed = false;

  publish(_exchange: string, _key: string, _content: Buffer, _options: unknown, cb: (err: unknown) => void) {
    if (this.closed) throw new Error('Channel closed');
    this.confirms.push(cb);
    return this.writable;
  }
}

/** amqplib's channel as far as settling deliveries goes. */
class FakeChannel {
  readonly settled: Array<{ ack: boolean; requeue?: boolean }> = [];
  ack() {
    this.settled.push({ ack: true });
  }
  nack(_message: unknown, _allUpTo: boolean, requeue: boolean) {
    this.settled.push({ ack: false, requeue });
  }
}

function delivery(content: string, headers: Record<string, unknown> = {}, redelivered = false) {
  return {
    content: Buffer.from(content),
    fields: { redelivered, routingKey: 'shop.happened', deliveryTag: 1 },
    properties: { headers, messageId: 'm1' },
  } as unknown as ConsumeMessage;
}

const settledState = async (promise: Promise<unknown>) =>
  Promise.race([
    promise.then(
      () => 'resolved',
      () => 'rejected',
    ),
    Promise.resolve().then(() => 'pending'),
  ]);

describe('confirmed publisher', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('resolves on the confirm, rejects on a nack, with many confirms in flight', async () => {
    const channel = new FakeConfirmChannel();
    const publisher = createConfirmedPublisher(channel as unknown as ConfirmChannel, 1000);
    const first = publisher.publish('x', 'k', message);
    const second = publisher.publish('x', 'k', message);
    await vi.advanceTimersByTimeAsync(0);
    expect(channel.confirms).toHaveLength(2);
    expect(await settledState(first)).toBe('pending');

    channel.confirms[0]!(null);
    channel.confirms[1]!(new Error('message nacked'));

    await expect(first).resolves.toBeUndefined();
    await expect(second).rejects.toThrow('message nacked');
  });

  it('rejects when no confirm comes within the timeout', async () => {
    const publisher = createConfirmedPublisher(new FakeConfirmChannel() as unknown as ConfirmChannel, 1000);
    const published = publisher.publish('x', 'k', message);
    const outcome = expect(published).rejects.toThrow(/No confirm/);
    await vi.advanceTimersByTimeAsync(999);
    expect(await settledState(published)).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    await outcome;
  });

  it('holds later publishes while the write buffer is full, until it drains', async () => {
    const channel = new FakeConfirmChannel();
    const publisher = createConfirmedPublisher(channel as unknown as ConfirmChannel, 1000);
    channel.writable = false;
    void publisher.publish('x', 'k', message);
    await vi.advanceTimersByTimeAsync(0);
    void publisher.publish('x', 'k', message);
    await vi.advanceTimersByTimeAsync(0);
    expect(channel.confirms).toHaveLength(1);

    channel.writable = true;
    channel.emit('drain');
    await vi.advanceTimersByTimeAsync(0);
    expect(channel.confirms).toHaveLength(2);
  });

  it('rejects at once on a closed channel, including publishes waiting for a drain', async () => {
    const channel = new FakeConfirmChannel();
    const publisher = createConfirmedPublisher(channel as unknown as ConfirmChannel, 1000);
    channel.writable = false;
    void publisher.publish('x', 'k', message);
    await vi.advanceTimersByTimeAsync(0);
    const waiting = publisher.publish('x', 'k', message);
    const outcome = expect(waiting).rejects.toThrow(/closed/);
    channel.closed = true;
    channel.emit('close');
    await outcome;
    await expect(publisher.publish('x', 'k', message)).rejects.toThrow(/closed/);
  });
});

describe('delivery handling', () => {
  /** The copies put back in the queue, with their failure counts; `requeueFails` makes that fail. */
  let requeued: number[] = [];
  let requeueFails = false;
  beforeEach(() => {
    vi.useFakeTimers();
    requeued = [];
    requeueFails = false;
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const event = JSON.stringify(createEnvelope('shop', 'shop.happened', { n: 1 }));
  const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

  function handle(
    channel: FakeChannel,
    content: ConsumeMessage,
    handler: () => Promise<void>,
    durable = true,
  ) {
    return handleDelivery(channel as unknown as Channel, content, {
      consumer: 'c',
      handler,
      durable,
      deliveryLimit: 3,
      requeue: async (_message, failures) => {
        if (requeueFails) throw new Error('no confirm');
        requeued.push(failures);
      },
      redeliveryDelayMs: 100,
      wait,
      log,
    });
  }

  it('acknowledges only after the handler resolved', async () => {
    const channel = new FakeChannel();
    const done = Promise.withResolvers<void>();
    const work = handle(channel, delivery(event), () => done.promise);
    await vi.advanceTimersByTimeAsync(10);
    expect(channel.settled).toEqual([]);
    done.resolve();
    await work;
    expect(channel.settled).toEqual([{ ack: true }]);
  });

  it('dead-letters a message that is not an event at once, without calling the handler', () => {
    for (const content of ['not json', '{"type":"shop.happened"}', '[]']) {
      const channel = new FakeChannel();
      const handler = vi.fn(async () => {});
      expect(handle(channel, delivery(content), handler)).toBeUndefined();
      expect(channel.settled).toEqual([{ ack: false, requeue: false }]);
      expect(handler).not.toHaveBeenCalled();
    }
  });

  const down = async () => {
    throw new Error('down');
  };

  it('puts a failed event back with its failure count after a delay that doubles with its failures, then acks it', async () => {
    const channel = new FakeChannel();
    const work = handle(channel, delivery(event, { 'x-splitshop-failures': 2 }), down);
    await vi.advanceTimersByTimeAsync(399);
    expect(channel.settled).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await work;
    expect(requeued).toEqual([3]);
    expect(channel.settled).toEqual([{ ack: true }]);
  });

  it("counts the handler's failures, not the broker's deliveries: returns after a consumer died do not spend them", async () => {
    const channel = new FakeChannel();
    const work = handle(channel, delivery(event, { 'x-delivery-count': 40 }), down);
    await vi.advanceTimersByTimeAsync(100);
    await work;
    expect(requeued).toEqual([1]);
    expect(channel.settled).toEqual([{ ack: true }]);
  });

  it('dead-letters an event whose handler failed more than the delivery limit', async () => {
    const channel = new FakeChannel();
    await handle(channel, delivery(event, { 'x-splitshop-failures': 3 }), down);
    expect(requeued).toEqual([]);
    expect(channel.settled).toEqual([{ ack: false, requeue: false }]);
  });

  it('returns the original to the broker when its copy could not be put back', async () => {
    requeueFails = true;
    const channel = new FakeChannel();
    const work = handle(channel, delivery(event), down);
    await vi.advanceTimersByTimeAsync(100);
    await work;
    expect(channel.settled).toEqual([{ ack: false, requeue: true }]);
  });

  it('on a transient queue, retries a failed delivery once, then drops it', async () => {
    const fail = async () => {
      throw new Error('down');
    };
    const first = new FakeChannel();
    await handle(first, delivery(event), fail, false);
    expect(first.settled).toEqual([{ ack: false, requeue: true }]);
    const second = new FakeChannel();
    await handle(second, delivery(event, {}, true), fail, false);
    expect(second.settled).toEqual([{ ack: false, requeue: false }]);
  });
});
