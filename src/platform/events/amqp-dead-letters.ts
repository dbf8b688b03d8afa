import { connect } from 'amqplib';
import { amqpNames, FAILURES_HEADER } from './amqp-topology.ts';

/**
 * Moves every message in `<ns>.<consumer>.dead` back to the consumer's queue (through the default
 * exchange, keeping its id, type and headers, `x-death` included) and returns how many, for the `replay-dead-letters`
 * command. Fix the cause first: a poison message dies again. Each message is removed from the dead
 * queue only after the broker confirmed its copy, so a crash midway duplicates, never loses, and the
 * consumer's inbox absorbs the duplicate. Only the messages present at the start are moved, so a
 * message that dies again while this runs is not replayed in a loop.
 */
export async function replayDeadLetters(url: string, consumer: string, namespace?: string): Promise<number> {
  const names = amqpNames(namespace);
  const queue = names.queue(consumer);
  const connection = await connect(url, { clientProperties: { connection_name: 'replay-dead-letters' } });
  // Failures reject the operation in progress; without listeners they would also crash the process.
  connection.on('error', () => {});
  try {
    const channel = await connection.createConfirmChannel();
    channel.on('error', () => {});
    // The default exchange drops a message for a queue that does not exist, with a confirm.
    await channel.checkQueue(queue);
    const { messageCount } = await channel.checkQueue(names.deadQueue(consumer));
    let moved = 0;
    while (moved < messageCount) {
      const message = await channel.get(names.deadQueue(consumer), { noAck: false });
      if (!message) break;
      const { properties } = message;
      const headers: Record<string, unknown> = { ...properties.headers };
      // The queue counts deliveries afresh; `x-death` stays, as the message's history.
      delete headers['x-delivery-count'];
      // A replayed event gets its full budget of failures again.
      delete headers[FAILURES_HEADER];
      headers['x-replayed'] = Number(headers['x-replayed'] ?? 0) + 1;
      await new Promise<void>((resolve, reject) => {
        channel.sendToQueue(
          queue,
          message.content,
          {
            persistent: true,
            headers,
            ...(properties.messageId ? { messageId: String(properties.messageId) } : {}),
            ...(properties.type ? { type: String(properties.type) } : {}),
            ...(properties.appId ? { appId: String(properties.appId) } : {}),
            ...(properties.contentType ? { contentType: String(properties.contentType) } : {}),
            ...(properties.timestamp ? { timestamp: Number(properties.timestamp) } : {}),
          },
          (err: unknown) => (err ? reject(err) : resolve()),
        );
      });
      channel.ack(message);
      moved++;
    }
    await channel.close();
    return moved;
  } finally {
    await connection.close().catch(() => {});
  }
}
