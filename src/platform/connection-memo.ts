/**
 * One thing remembered on each connection (its socket): the credential a client sent last, what it
 * meant, and until when. A keep-alive client sends the same credential with every request, and
 * comparing it with the last one costs a few nanoseconds, where hashing a string of some 200
 * characters to look it up in a map costs about a microsecond (and a SHA-256 of it, more).
 * Each memo is its own: what one remembers, another never recalls.
 */
export interface ConnectionMemo<T> {
  /** What `key` meant when `connection` last brought it, unless that has expired since. */
  recall(connection: object, key: string): T | undefined;
  /** Remembers on `connection` that `key` means `value` until `until` (epoch ms). */
  remember(connection: object, key: string, value: T, until: number): void;
}

export function connectionMemo<T>(name: string): ConnectionMemo<T> {
  const slot = Symbol(name);
  type Remembering = Record<symbol, { readonly key: string; readonly value: T; readonly until: number }>;
  return {
    recall(connection, key) {
      const last = (connection as Remembering)[slot];
      return last !== undefined && last.key === key && last.until > Date.now() ? last.value : undefined;
    },
    remember(connection, key, value, until) {
      (connection as Remembering)[slot] = { key, value, until };
    },
  };
}
