import { randomBytes } from 'node:crypto';
import { type Algorithm, hash, type Options, verify } from '@node-rs/argon2';
import { bulkhead, isBulkheadRejectedError } from 'cockatiel';
import { usersErrors } from './contract.ts';

/** OWASP's first argon2id choice: 19 MiB, two passes, one lane. `Algorithm` is a const enum: 2 is Argon2id. */
export const ARGON2_OPTIONS: Options = {
  algorithm: 2 as Algorithm,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
};

/** Hashes and checks passwords, a bounded number at a time. */
export interface PasswordHasher {
  /** An encoded argon2id hash (PHC string) of `password`. Raises `PASSWORD_CHECKS_BUSY` when full. */
  hash(password: string): Promise<string>;
  /**
   * True when `password` matches `encoded`. Without `encoded` (unknown user) it verifies against a
   * dummy hash and answers false, so both failures cost one full argon2 computation.
   * Raises `PASSWORD_CHECKS_BUSY` when full.
   */
  verify(encoded: string | undefined, password: string): Promise<boolean>;
}

export interface PasswordHasherOptions {
  /** argon2 computations at once; each holds `memoryCost` of memory. */
  readonly concurrency: number;
  /** Computations allowed to wait for a slot; beyond that a call is refused. Default: 4 × concurrency. */
  readonly queue?: number;
}

export function createPasswordHasher(options: PasswordHasherOptions): PasswordHasher {
  const limit = bulkhead(options.concurrency, options.queue ?? options.concurrency * 4);
  // Made once at start, so an unknown user costs a verify and never a hash.
  const dummy = hash(randomBytes(32), ARGON2_OPTIONS);
  dummy.catch(() => {});

  async function bounded<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await limit.execute(work);
    } catch (error) {
      if (isBulkheadRejectedError(error)) throw usersErrors.PASSWORD_CHECKS_BUSY();
      throw error;
    }
  }

  return {
    hash: (password) => bounded(() => hash(password, ARGON2_OPTIONS)),
    async verify(encoded, password) {
      if (encoded !== undefined) return bounded(() => verify(encoded, password));
      const decoy = await dummy;
      await bounded(() => verify(decoy, password));
      return false;
    },
  };
}
