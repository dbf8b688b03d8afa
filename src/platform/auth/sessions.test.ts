import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { isAppError } from '../errors.ts';
import { type CurrentSession, createSessions } from './sessions.ts';

const log = pino({ level: 'silent' });

function sourceOf(table: Map<string, CurrentSession>) {
  const asked: string[] = [];
  let down = false;
  return {
    asked,
    down: (value: boolean) => {
      down = value;
    },
    source: async (userId: string) => {
      asked.push(userId);
      if (down) throw new Error('users is unreachable');
      return table.get(userId);
    },
  };
}

describe('sessions', () => {
  it('knows nothing until it has read a user, then judges its tokens from the cache', async () => {
    const table = new Map([['u1', { role: 'customer' as const, version: 2 }]]);
    const { source, asked } = sourceOf(table);
    const sessions = createSessions({ source, log });
    const actor = { id: 'u1', role: 'customer' as const, sessionVersion: 2 };
    expect(sessions.isCurrent(actor)).toBeUndefined();
    await Promise.all([sessions.load('u1'), sessions.load('u1')]);
    expect(asked).toEqual(['u1']);
    expect(sessions.isCurrent(actor)).toBe(true);
    expect(sessions.isCurrent({ ...actor, sessionVersion: 1 })).toBe(false);
    // A token without a version is of session 0.
    expect(sessions.isCurrent({ id: 'u1', role: 'customer' })).toBe(false);
  });

  it('ends a session on the event, and an answer read before the event cannot bring it back', async () => {
    const table = new Map([['u1', { role: 'admin' as const, version: 0 }]]);
    const sessions = createSessions({ source: sourceOf(table).source, log });
    const actor = { id: 'u1', role: 'admin' as const, sessionVersion: 0 };
    await sessions.load('u1');
    sessions.ended('u1', 1);
    expect(sessions.isCurrent(actor)).toBe(false);
    await sessions.load('u1');
    expect(sessions.isCurrent(actor)).toBe(false);
    sessions.clear();
    expect(sessions.isCurrent(actor)).toBeUndefined();
  });

  it('confirms a role from the source itself, and refuses an ended session or a user that is gone', async () => {
    const table = new Map([['u1', { role: 'customer' as const, version: 3 }]]);
    const { source, asked } = sourceOf(table);
    const sessions = createSessions({ source, log });
    await expect(sessions.confirm({ id: 'u1', role: 'admin', sessionVersion: 3 })).resolves.toBe('customer');
    const refused = await sessions.confirm({ id: 'u1', role: 'admin', sessionVersion: 2 }).catch((e) => e);
    expect(isAppError(refused) && refused.code).toBe('UNAUTHORIZED');
    const gone = await sessions.confirm({ id: 'u2', role: 'admin', sessionVersion: 0 }).catch((e) => e);
    expect(isAppError(gone) && gone.code).toBe('UNAUTHORIZED');
    expect(sessions.isCurrent({ id: 'u2', role: 'admin', sessionVersion: 5 })).toBe(false);
    expect(asked).toEqual(['u1', 'u1', 'u2']);
  });

  it('while the source cannot be reached, keeps what it knew and leaves the rest undecided', async () => {
    const table = new Map([['u1', { role: 'customer' as const, version: 1 }]]);
    const source = sourceOf(table);
    const sessions = createSessions({ source: source.source, log, ttlMs: 0 });
    await sessions.load('u1');
    source.down(true);
    await sessions.load('u1');
    await sessions.load('u2');
    expect(sessions.isCurrent({ id: 'u1', role: 'customer', sessionVersion: 0 })).toBe(false);
    expect(sessions.isCurrent({ id: 'u2', role: 'customer', sessionVersion: 0 })).toBeUndefined();
  });
});
