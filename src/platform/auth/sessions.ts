import type { Actor, Role } from '../context.ts';
import { platformErrors } from '../errors.ts';
import type { Logger } from '../log.ts';

/** A user's session as the users module keeps it: the role now, and the version its tokens must carry. */
export interface CurrentSession {
  readonly role: Role;
  readonly version: number;
}

/** Reads a user's current session from the users module (in process or over HTTP); undefined: no such user. */
export type SessionSource = (userId: string) => Promise<CurrentSession | undefined>;

/**
 * Whether a token is still of its user's session. Every token carries the session version its user had
 * when it was issued; a change of role or password moves the version on, so every token issued before
 * is refused. The edge asks on every request, from a cache the users module's `sessions_ended` events
 * keep current (`ended`); what must not act on a cached answer (admin routes) asks the source (`confirm`).
 */
export interface Sessions {
  /** Whether `actor`'s token is of the current session, as known here; undefined when not known yet. */
  isCurrent(actor: Actor): boolean | undefined;
  /** Reads the user's session into the cache; while the source cannot be reached, keeps what it had. */
  load(userId: string): Promise<void>;
  /**
   * The role `actor` has now, read from the source: `UNAUTHORIZED` when its token's session has ended
   * (or the user is gone), for a decision that must not act on a cached answer.
   */
  confirm(actor: Actor): Promise<Role>;
  /** The users module says the user's session is now at `version`. */
  ended(userId: string, version: number): void;
  /** Forgets everything, as after missing events (the bus reconnected). */
  clear(): void;
}

export interface SessionsOptions {
  readonly source: SessionSource;
  readonly log: Logger;
  /** Users kept; past it the one read longest ago goes. 100 000 by default. */
  readonly maxEntries?: number;
  /** A cached session is read again after this long, in case an event was missed. 60 s by default. */
  readonly ttlMs?: number;
}

/** While the source cannot be reached, a session read before is used this much longer, then asked again. */
const STALE_GRACE_MS = 5_000;

/** No such user: every token of it has ended. */
const GONE = Number.POSITIVE_INFINITY;

export const sessionEnded = () => platformErrors.UNAUTHORIZED('The session has ended: sign in again');

export function createSessions(options: SessionsOptions): Sessions {
  const { source, log } = options;
  const maxEntries = options.maxEntries ?? 100_000;
  const ttlMs = options.ttlMs ?? 60_000;
  const known = new Map<string, { version: number; until: number }>();
  const loading = new Map<string, Promise<void>>();

  const keep = (userId: string, version: number) => {
    const had = known.get(userId);
    known.delete(userId);
    if (known.size >= maxEntries) known.delete(known.keys().next().value!);
    // Versions only move on: an answer read before an event arrived cannot undo it.
    known.set(userId, { version: Math.max(version, had?.version ?? 0), until: Date.now() + ttlMs });
  };

  async function read(userId: string): Promise<void> {
    try {
      const session = await source(userId);
      keep(userId, session?.version ?? GONE);
    } catch (err) {
      // Fail open for the cached check only: the token's signature still holds, admin routes confirm.
      log.warn({ user_id: userId, err }, 'could not read a session; judging the token by its signature');
      const had = known.get(userId);
      if (had) known.set(userId, { ...had, until: Date.now() + STALE_GRACE_MS });
    }
  }

  return {
    isCurrent(actor) {
      const entry = known.get(actor.id);
      if (entry === undefined || entry.until <= Date.now()) return undefined;
      return (actor.sessionVersion ?? 0) >= entry.version;
    },
    load(userId) {
      let pending = loading.get(userId);
      if (pending === undefined) {
        pending = read(userId).finally(() => loading.delete(userId));
        loading.set(userId, pending);
      }
      return pending;
    },
    async confirm(actor) {
      const session = await source(actor.id);
      if (session === undefined || (actor.sessionVersion ?? 0) !== session.version) {
        keep(actor.id, session?.version ?? GONE);
        throw sessionEnded();
      }
      keep(actor.id, session.version);
      return session.role;
    },
    ended(userId, version) {
      keep(userId, version);
    },
    clear() {
      known.clear();
    },
  };
}
