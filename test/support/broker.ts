import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { type ConfirmChannel, connect } from 'amqplib';
import { EVENT_CONSUMERS, MODULE_NAMES } from '../../src/bootstrap/topology.ts';
import { amqpNames } from '../../src/platform/events/amqp-topology.ts';

const run = promisify(execFile);

/** Runs `rabbitmqctl` on the local broker (only the infrastructure faults suite stops and starts it). */
export async function rabbitmqctl(...args: string[]): Promise<string> {
  const { stdout } = await run('rabbitmqctl', args, { timeout: 120_000 });
  return stdout;
}

/** Stops the broker's application (connections drop, the port closes) without stopping its node. */
export async function stopBroker(): Promise<void> {
  await rabbitmqctl('stop_app');
}

/** Starts the broker's application again and waits until it accepts connections. */
export async function startBroker(): Promise<void> {
  await rabbitmqctl('start_app');
  await rabbitmqctl('await_startup');
}

/** Runs `work` on a confirm channel of a connection of its own, closed afterwards. */
async function withChannel<T>(url: string, work: (channel: ConfirmChannel) => Promise<T>): Promise<T> {
  const connection = await connect(url);
  // A refused operation rejects its promise; without listeners it would also crash the test run.
  connection.on('error', () => {});
  try {
    const channel = await connection.createConfirmChannel();
    channel.on('error', () => {});
    const result = await work(channel);
    await channel.close();
    return result;
  } finally {
    await connection.close().catch(() => {});
  }
}

export interface QueueCounts {
  readonly ready: number;
  readonly consumers: number;
  /** Delivered to a consumer that has not acknowledged them yet. */
  readonly unacknowledged: number;
}

/** What the broker says of one queue now (a passive declare), with `rabbitmqctl` for what is unacknowledged. */
export async function queueCounts(url: string, queue: string): Promise<QueueCounts> {
  const { messageCount, consumerCount } = await withChannel(url, (channel) => channel.checkQueue(queue));
  const out = await rabbitmqctl('list_queues', '-q', '--no-table-headers', 'name', 'messages_unacknowledged');
  const line = out.split('\n').find((l) => l.trim().split(/\s+/)[0] === queue);
  const unacknowledged = Number(line?.trim().split(/\s+/)[1] ?? Number.NaN);
  return { ready: messageCount, consumers: consumerCount, unacknowledged };
}

/** Publishes one message as a module's relay would (persistent, confirmed), and returns its id. */
export async function publishRaw(
  url: string,
  exchange: string,
  routingKey: string,
  body: Record<string, unknown>,
): Promise<string> {
  const id = typeof body.id === 'string' ? body.id : randomUUID();
  await withChannel(url, async (channel) => {
    const content = Buffer.from(JSON.stringify({ id, ...body }));
    channel.publish(exchange, routingKey, content, {
      persistent: true,
      messageId: id,
      type: routingKey,
      contentType: 'application/json',
    });
    await channel.waitForConfirms();
  });
  return id;
}

/** The headers of the messages waiting in `queue`, read and put back: closing the channel returns them. */
export function peekHeaders(url: string, queue: string): Promise<Array<Record<string, unknown>>> {
  return withChannel(url, async (channel) => {
    const headers: Array<Record<string, unknown>> = [];
    for (let message = await channel.get(queue); message; message = await channel.get(queue)) {
      headers.push({ ...message.properties.headers, 'message-id': message.properties.messageId });
    }
    return headers;
  });
}

/**
 * Deletes every queue and exchange a shop declared under `namespace`, so test runs do not leave their
 * durable quorum queues behind (each holds a few MB of the broker's memory for as long as it exists).
 */
export async function deleteNamespace(url: string, namespace: string): Promise<void> {
  const names = amqpNames(namespace);
  await withChannel(url, async (channel) => {
    for (const consumer of EVENT_CONSUMERS) {
      await channel.deleteQueue(names.queue(consumer));
      await channel.deleteQueue(names.deadQueue(consumer));
    }
    for (const source of MODULE_NAMES) await channel.deleteExchange(names.exchange(source));
    await channel.deleteExchange(names.deadLetterExchange);
  });
}
