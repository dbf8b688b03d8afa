import { v7 } from 'uuid';

/** A new opaque id. UUIDv7 sorts by creation time, which keyset pagination relies on. */
export function newId(): string {
  return v7();
}
