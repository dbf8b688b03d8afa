/**
 * uuid's `v7()` asks `crypto.getRandomValues` for 16 bytes per id: 5% of the shop's CPU under order
 * load (a `--cpu-prof` of bench/orders.ts, 2026-12-08). Ids here take their random bytes from a 4 KiB
 * pool instead, and pass uuid the millisecond and counter its own state would, so they keep v7's
 * order within a millisecond.
 */
import { randomFillSync } from 'node:crypto';
import { v7 } from 'uuid';

const pool = new Uint8Array(4096);
let cursor = pool.length;
let lastMs = Number.NEGATIVE_INFINITY;
let seq = 0;

/** A new opaque id. UUIDv7 sorts by creation time, which keyset pagination relies on. */
export function newId(): string {
  if (cursor === pool.length) {
    randomFillSync(pool);
    cursor = 0;
  }
  const random = pool.subarray(cursor, cursor + 16);
  cursor += 16;
  const now = Date.now();
  if (now > lastMs) {
    // As uuid seeds its counter each millisecond: 31 random bits, leaving room to count up.
    seq = ((random[6]! & 0x7f) << 24) | (random[7]! << 16) | (random[8]! << 8) | random[9]!;
    lastMs = now;
  } else {
    seq = (seq + 1) | 0;
    if (seq === 0) lastMs += 1;
  }
  return v7({ random, msecs: lastMs, seq });
}
