import type { Generated, Insertable, Kysely, Selectable, Updateable } from 'kysely';
import type { Role } from '../../platform/context.ts';
import type { EventTables } from '../../platform/events/tables.ts';

export interface UsersTable {
  id: string;
  username: string;
  /** Lowercased. */
  email: string;
  /** argon2id PHC string; never leaves this module. */
  password_hash: string;
  role: Role;
  /** Moves on with every change of role or password; tokens carry the one they were issued at. */
  session_version: Generated<number>;
  created_at: string;
  updated_at: string;
}

export interface UsersTables {
  users: UsersTable;
}

export type UsersDatabase = UsersTables & EventTables;

export type UserRow = Selectable<UsersTable>;

/** The columns that may change after registration. */
export type UserChanges = Pick<
  Updateable<UsersTable>,
  'email' | 'password_hash' | 'role' | 'session_version' | 'updated_at'
>;

export type NewUser = Insertable<UsersTable>;

/** Queries on the users table. Reads take the database; writes take the caller's transaction. */
export interface UsersRepository {
  findById(id: string, db?: Kysely<UsersDatabase>): Promise<UserRow | undefined>;
  findByUsername(username: string, db?: Kysely<UsersDatabase>): Promise<UserRow | undefined>;
  findByEmail(email: string): Promise<UserRow | undefined>;
  /** Whether `username` or `email` is taken, for a fast answer before the unique constraint decides. */
  isTaken(username: string, email: string): Promise<boolean>;
  adminExists(db?: Kysely<UsersDatabase>): Promise<boolean>;
  insert(trx: Kysely<UsersDatabase>, row: NewUser): Promise<void>;
  update(trx: Kysely<UsersDatabase>, id: string, changes: UserChanges): Promise<UserRow | undefined>;
  updateByUsername(
    trx: Kysely<UsersDatabase>,
    username: string,
    changes: UserChanges,
  ): Promise<UserRow | undefined>;
}

export function createUsersRepository(db: Kysely<UsersDatabase>): UsersRepository {
  const byColumn = (column: 'id' | 'username' | 'email', value: string, executor = db) =>
    executor.selectFrom('users').selectAll().where(column, '=', value).executeTakeFirst();
  return {
    findById: (id, executor) => byColumn('id', id, executor),
    findByUsername: (username, executor) => byColumn('username', username, executor),
    findByEmail: (email) => byColumn('email', email),
    async isTaken(username, email) {
      const row = await db
        .selectFrom('users')
        .select('id')
        .where((eb) => eb.or([eb('username', '=', username), eb('email', '=', email)]))
        .executeTakeFirst();
      return row !== undefined;
    },
    async adminExists(executor = db) {
      const row = await executor
        .selectFrom('users')
        .select('id')
        .where('role', '=', 'admin')
        .limit(1)
        .executeTakeFirst();
      return row !== undefined;
    },
    async insert(trx, row) {
      await trx.insertInto('users').values(row).execute();
    },
    update(trx, id, changes) {
      return trx.updateTable('users').set(changes).where('id', '=', id).returningAll().executeTakeFirst();
    },
    updateByUsername(trx, username, changes) {
      return trx
        .updateTable('users')
        .set(changes)
        .where('username', '=', username)
        .returningAll()
        .executeTakeFirst();
    },
  };
}
