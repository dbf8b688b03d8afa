import { platformErrors } from './errors.ts';

/** A page request as every list takes it. */
export interface PageRequest {
  /** 1 to 100. */
  readonly limit: number;
  /** The `next_cursor` of the previous page. */
  readonly cursor?: string | undefined;
}

/** A page as every list answers it. */
export interface Page<T> {
  readonly items: T[];
  readonly next_cursor: string | null;
}

export const DEFAULT_LIMIT = 20;
export const MAX_LIMIT = 100;

/** Cursors are opaque to clients: base64url of the last key seen. */
export function encodeCursor(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(cursor)) throw platformErrors.INVALID_CURSOR();
  const key = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^[0-9a-f-]{36}$/.test(key)) throw platformErrors.INVALID_CURSOR();
  return key;
}

/** Builds a page from `limit + 1` rows fetched in key order. */
export function toPage<R, T>(
  rows: R[],
  limit: number,
  keyOf: (row: R) => string,
  map: (row: R) => T,
): Page<T> {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  const last = kept.at(-1);
  return { items: kept.map(map), next_cursor: more && last ? encodeCursor(keyOf(last)) : null };
}
