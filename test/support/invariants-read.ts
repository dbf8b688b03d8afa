import { type ChannelModel, connect } from 'amqplib';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { ReadonlyKysely, ReadonlyTransaction } from 'kysely/readonly';
import { MODULE_NAMES, type ModuleName } from '../../src/bootstrap/topology.ts';
import { isPostgresUrl, openPostgres } from '../../src/platform/db/postgres.ts';
import { amqpNames } from '../../src/platform/events/amqp-topology.ts';
import type { ShopHandle } from './shop.ts';

/** The columns the invariant check reads, of every table it reads; each module's database has some. */
export interface CheckedTables {
  outbox: { event_id: string; type: string; sent_at: number | null; dead_at: number | null };
  inbox: { consumer: string; event_id: string };
  orders: { id: string; status: string; total_minor: number | null; items: string };
  sagas: { order_id: string; status: string };
  order_events: { order_id: string };
  payments: { order_id: string; kind: string; status: string; amount_minor: number };
  products: { id: string; stock: number };
  notifications: { id: string; event_id: string };
}

/** One module's database, opened so that nothing can be written through it. */
interface Reader {
  /** Runs `read` on one consistent snapshot of the database. */
  snapshot<T>(read: (trx: ReadonlyTransaction<CheckedTables>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

function openReader(url: string): Reader {
  if (isPostgresUrl(url)) {
    const db = openPostgres<CheckedTables>(url, { poolSize: 1 }) as unknown as ReadonlyKysely<CheckedTables>;
    return {
      snapshot: (read) =>
        db.transaction().setAccessMode('read only').setIsolationLevel('repeatable read').execute(read),
      close: () => db.destroy(),
    };
  }
  const file = url.slice('sqlite:'.length);
  const raw = new Database(file, { readonly: true, fileMustExist: true });
  const db = new Kysely<CheckedTables>({
    dialect: new SqliteDialect({ database: raw }),
  }) as unknown as ReadonlyKysely<CheckedTables>;
  // A deferred transaction reads one snapshot of a WAL database from its first read on.
  return { snapshot: (read) => db.transaction().execute(read), close: () => db.destroy() };
}

/** Everything the invariants are judged on, read at one moment per database. */
export interface Observed {
  readonly outbox: ReadonlyArray<CheckedTables['outbox'] & { module: ModuleName }>;
  /** Event ids each consumer's inbox holds, with repeats if there were any. */
  readonly inbox: ReadonlyMap<string, readonly string[]>;
  readonly notifications: ReadonlyArray<CheckedTables['notifications']>;
  readonly orders: ReadonlyArray<CheckedTables['orders']>;
  readonly sagas: ReadonlyArray<CheckedTables['sagas']>;
  /** Orders with at least one stored event. */
  readonly orderStreams: ReadonlySet<string>;
  readonly payments: ReadonlyArray<CheckedTables['payments']>;
  readonly products: ReadonlyArray<CheckedTables['products']>;
  /** Messages in each queue (ready and, where the broker tells, unacknowledged), by queue name. */
  readonly queues: ReadonlyMap<string, number>;
}

/** Reads every module's database, and the consumers' queues when events travel over AMQP. */
export interface ShopObserver {
  observe(): Promise<Observed>;
  close(): Promise<void>;
}

export function observeShop(
  shop: Pick<ShopHandle, 'databases' | 'amqp'>,
  consumers: readonly string[],
): ShopObserver {
  const readers = new Map(MODULE_NAMES.map((m) => [m, openReader(shop.databases[m])] as const));
  const reader = (m: ModuleName) => readers.get(m)!;
  const broker = shop.amqp ? queueDepths(shop.amqp.url) : undefined;
  const names = amqpNames(shop.amqp?.namespace);
  const queueNames = consumers.flatMap((c) => [names.queue(c), names.deadQueue(c)]);

  return {
    async observe() {
      const outbox = (
        await Promise.all(
          MODULE_NAMES.map((module) =>
            reader(module).snapshot(async (trx) =>
              (
                await trx.selectFrom('outbox').select(['event_id', 'type', 'sent_at', 'dead_at']).execute()
              ).map((row) => ({ ...row, module })),
            ),
          ),
        )
      ).flat();
      const ordersView = await reader('orders').snapshot(async (trx) => ({
        orders: await trx.selectFrom('orders').select(['id', 'status', 'total_minor', 'items']).execute(),
        sagas: await trx.selectFrom('sagas').select(['order_id', 'status']).execute(),
        streams: await trx.selectFrom('order_events').select('order_id').distinct().execute(),
      }));
      const consumed = await Promise.all(
        consumers.map((consumer) =>
          reader(consumer as ModuleName).snapshot(async (trx) => ({
            inbox: await trx
              .selectFrom('inbox')
              .select('event_id')
              .where('consumer', '=', consumer)
              .execute(),
            notifications:
              consumer === 'notifications'
                ? await trx.selectFrom('notifications').select(['id', 'event_id']).execute()
                : [],
          })),
        ),
      );
      return {
        outbox,
        inbox: new Map(consumers.map((c, i) => [c, consumed[i]!.inbox.map((r) => r.event_id)])),
        notifications: consumed.flatMap((c) => c.notifications),
        orders: ordersView.orders.map((o) => ({
          ...o,
          total_minor: o.total_minor === null ? null : Number(o.total_minor),
        })),
        sagas: ordersView.sagas,
        orderStreams: new Set(ordersView.streams.map((s) => s.order_id)),
        payments: (
          await reader('payments').snapshot((trx) =>
            trx.selectFrom('payments').select(['order_id', 'kind', 'status', 'amount_minor']).execute(),
          )
        ).map((p) => ({ ...p, amount_minor: Number(p.amount_minor) })),
        products: await reader('catalog').snapshot((trx) =>
          trx.selectFrom('products').select(['id', 'stock']).execute(),
        ),
        queues: broker ? await broker.depths(queueNames) : new Map(),
      };
    },
    async close() {
      await Promise.all([...readers.values()].map((r) => r.close()));
      await broker?.close();
    },
  };
}

/**
 * Queue depths: from the management API when the broker serves it (it counts unacknowledged messages
 * too), else from a passive declare over AMQP (ready messages only). A queue not declared yet holds none.
 */
function queueDepths(amqpUrl: string) {
  const url = new URL(amqpUrl);
  const auth = `Basic ${Buffer.from(`${decodeURIComponent(url.username || 'guest')}:${decodeURIComponent(url.password || 'guest')}`).toString('base64')}`;
  const vhost = encodeURIComponent(decodeURIComponent(url.pathname.slice(1)) || '/');
  let management: boolean | undefined;
  let connection: Promise<ChannelModel> | undefined;

  async function fromManagement(queue: string): Promise<number | undefined> {
    const res = await fetch(`http://${url.hostname}:15672/api/queues/${vhost}/${encodeURIComponent(queue)}`, {
      headers: { authorization: auth },
      signal: AbortSignal.timeout(5_000),
    });
    if (res.status === 404) return 0;
    if (!res.ok) throw new Error(`management API: ${res.status}`);
    return Number(((await res.json()) as { messages?: number }).messages ?? 0);
  }

  async function fromAmqp(queue: string): Promise<number> {
    connection ??= connect(amqpUrl).then((c) => {
      c.on('error', () => {});
      return c;
    });
    // A passive declare of a missing queue closes its channel: one channel per question.
    const channel = await (await connection).createChannel();
    channel.on('error', () => {});
    try {
      return (await channel.checkQueue(queue)).messageCount;
    } catch {
      return 0;
    } finally {
      await channel.close().catch(() => {});
    }
  }

  return {
    async depths(queues: readonly string[]): Promise<Map<string, number>> {
      const depths = new Map<string, number>();
      for (const queue of queues) {
        if (management !== false) {
          const n = await fromManagement(queue).catch(() => undefined);
          management = n !== undefined;
          if (n !== undefined) {
            depths.set(queue, n);
            continue;
          }
        }
        depths.set(queue, await fromAmqp(queue));
      }
      return depths;
    },
    async close() {
      if (connection) await (await connection).close().catch(() => {});
    },
  };
}
