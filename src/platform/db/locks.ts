import { sql, type Transaction } from 'kysely';
import { isPostgres } from './database.ts';

/**
 * Makes transactions that lock the same `scope` and `key` run one after the other, from this call to
 * their commit or rollback; call it first in the transaction, so what it reads next is what the previous
 * holder committed. On Postgres a transaction-scoped advisory lock, which needs no row to exist yet (a
 * row lock does); on SQLite nothing, since every write transaction there begins immediate and so already
 * runs alone. A hash collision only serializes two unrelated keys.
 */
export async function lockKey<DB>(trx: Transaction<DB>, scope: string, key: string): Promise<void> {
  if (!isPostgres(trx)) return;
  await sql`select pg_advisory_xact_lock(hashtext(${scope}), hashtext(${key}))`.execute(trx);
}
