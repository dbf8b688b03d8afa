/** The time source services use, so tests can move it. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** RFC 3339 in UTC, as every timestamp in the API. */
export function isoNow(clock: Clock = systemClock): string {
  return clock.now().toISOString();
}
