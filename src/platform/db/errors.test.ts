import { describe, expect, it } from 'vitest';
import { isDatabaseUnavailable, isUniqueViolation } from './errors.ts';

const coded = (code: string, message = 'failed') => Object.assign(new Error(message), { code });

describe('database errors', () => {
  it('take a database that cannot do the work now for unavailable', () => {
    for (const error of [
      coded('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'),
      coded('57P01', 'terminating connection due to administrator command'),
      coded('08006', 'connection failure'),
      coded('57014', 'canceling statement due to statement timeout'),
      coded('55P03', 'canceling statement due to lock timeout'),
      coded('40P01', 'deadlock detected'),
      coded('SQLITE_BUSY', 'database is locked'),
      coded('SQLITE_FULL', 'database or disk is full'),
      coded('SQLITE_IOERR_FSYNC', 'disk I/O error'),
      new Error('Connection terminated unexpectedly'),
      new Error('timeout exceeded when trying to connect'),
      new Error('Could not ensure the database', { cause: coded('ECONNRESET') }),
      // A host name with several addresses: Node tries each and reports them all.
      new AggregateError([coded('ECONNREFUSED'), coded('ECONNREFUSED')], 'connect failed'),
    ])
      expect(isDatabaseUnavailable(error), String(error)).toBe(true);
  });

  it('leave every other error alone, so a fault in the code still reads as one', () => {
    for (const error of [
      new Error('Cannot read properties of undefined'),
      coded('23505', 'duplicate key value violates unique constraint'),
      coded('23514', 'new row violates check constraint'),
      coded('42P01', 'relation "products" does not exist'),
      coded('SQLITE_CONSTRAINT_UNIQUE'),
      undefined,
      'a string',
    ])
      expect(isDatabaseUnavailable(error), String(error)).toBe(false);
    expect(isUniqueViolation(coded('23505'))).toBe(true);
  });
});
