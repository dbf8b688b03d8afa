import { codesOf, SOCKET_ERROR_CODES } from '../errors.ts';

/** A unique or primary-key constraint refused the write, as SQLite (better-sqlite3) or Postgres (pg) says it. */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}

/**
 * Whether an error says the database could not do the work now, rather than that the work was wrong:
 * the server cannot be reached or went away, it refuses connections while it starts or stops, or a
 * statement ran out of time, waited too long for a lock, or lost a conflict it may win if tried again.
 * The edge answers these 503 with `Retry-After`, not 500: nothing is wrong with the request, and a
 * client (or the gateway's breaker) should treat them as the service being away for a moment.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  const unavailable = (code: string) =>
    UNAVAILABLE_CODES.has(code) || code.startsWith('08') || code.startsWith('SQLITE_IOERR_');
  if (codesOf(error).some(unavailable)) return true;
  for (let e = error, depth = 0; typeof e === 'object' && e !== null && depth < 5; depth++) {
    const { message, cause } = e as { message?: unknown; cause?: unknown };
    if (typeof message === 'string' && PG_MESSAGES.some((m) => message.startsWith(m))) return true;
    e = cause;
  }
  return false;
}

const UNAVAILABLE_CODES = new Set([
  // The socket to the server.
  ...SOCKET_ERROR_CODES,
  // Postgres SQLSTATEs (class 08, connection exceptions, is matched by its prefix): admin or crash
  // shutdown, cannot connect now, too many connections, statement timeout, lock timeout,
  // serialization failure, deadlock.
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '57014',
  '55P03',
  '40001',
  '40P01',
  // SQLite: another connection holds the lock past the busy timeout; the disk is full or failing.
  'SQLITE_BUSY',
  'SQLITE_BUSY_SNAPSHOT',
  'SQLITE_BUSY_RECOVERY',
  'SQLITE_LOCKED',
  'SQLITE_FULL',
  'SQLITE_IOERR',
]);

/** What `pg` and `pg-pool` throw, without a code, when a connection fails or is lost. */
const PG_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error and is not queryable',
];
