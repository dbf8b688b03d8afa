import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The local test server: trust authentication, user `postgres`. */
export const POSTGRES_SERVER = 'postgres://postgres@127.0.0.1:5432';

/** A database of its own for one suite; `drop` removes it, closing any connection left open. */
export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

async function onServer(statement: (client: pg.Client) => string): Promise<void> {
  const client = new pg.Client({ connectionString: `${POSTGRES_SERVER}/postgres` });
  await client.connect();
  try {
    await client.query(statement(client));
  } finally {
    await client.end();
  }
}

/** Drops the database `name` on the local server if it exists, closing any connection left open. */
export function dropDatabase(name: string): Promise<void> {
  return onServer((client) => `drop database if exists ${client.escapeIdentifier(name)} with (force)`);
}

/** Creates a fresh, uniquely named database (`<prefix>_<time>_<random>`) on the local server. */
export async function createTestDatabase(prefix: string): Promise<TestDatabase> {
  const unique = `${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  // Identifiers stop at 63 bytes; lower case keeps the name as psql would show it.
  const name = `${prefix
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .slice(0, 40)}_${unique}`;
  await onServer((client) => `create database ${client.escapeIdentifier(name)}`);
  return {
    name,
    url: `${POSTGRES_SERVER}/${name}`,
    drop: () => dropDatabase(name),
  };
}
