import { describe, expect, it } from 'vitest';
import { hasCode } from '../../platform/errors.ts';
import { createPasswordHasher } from './password.ts';

describe('password hasher', () => {
  it('hashes with argon2id at 19456 KiB, two passes, one lane, and verifies', async () => {
    const hasher = createPasswordHasher({ concurrency: 2 });
    const encoded = await hasher.hash('correct horse battery');
    expect(encoded).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(encoded).not.toContain('correct horse battery');
    await expect(hasher.verify(encoded, 'correct horse battery')).resolves.toBe(true);
    await expect(hasher.verify(encoded, 'correct horse batterz')).resolves.toBe(false);
  });

  it('salts every hash', async () => {
    const hasher = createPasswordHasher({ concurrency: 2 });
    const [a, b] = await Promise.all([hasher.hash('same password'), hasher.hash('same password')]);
    expect(a).not.toBe(b);
  });

  it('answers false without a stored hash', async () => {
    const hasher = createPasswordHasher({ concurrency: 1 });
    await expect(hasher.verify(undefined, 'any password')).resolves.toBe(false);
  });

  it('refuses computations beyond the running and waiting capacity with PASSWORD_CHECKS_BUSY', async () => {
    const hasher = createPasswordHasher({ concurrency: 1, queue: 1 });
    const results = await Promise.allSettled([hasher.hash('one'), hasher.hash('two'), hasher.hash('three')]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    const refused = results[2] as PromiseRejectedResult;
    expect(hasCode(refused.reason, 'PASSWORD_CHECKS_BUSY')).toBe(true);
    expect(refused.reason.status).toBe(429);
    // The slots come back once the work is done.
    await expect(hasher.hash('four')).resolves.toMatch(/^\$argon2id\$/);
  });

  it('puts the unknown-user check through the same bound, as it runs a full verify', async () => {
    const hasher = createPasswordHasher({ concurrency: 1, queue: 0 });
    await hasher.verify(undefined, 'warm up the dummy hash');
    const running = hasher.hash('holds the only slot');
    await expect(hasher.verify(undefined, 'unknown user')).rejects.toSatisfy((e) =>
      hasCode(e, 'PASSWORD_CHECKS_BUSY'),
    );
    await running;
  });
});
