import { describe, expect, it } from 'vitest';
import { createClient, register, uniqueUsername, validPassword } from '../http-client.ts';
import { type RawResponse, send } from './raw-http.ts';
import { createTally, isProblem, type Target } from './world.ts';

/** The login limits, as the suite configures both topologies. */
export const LOGIN_LIMITS = {
  /** Failed logins per account or name tried, and per remembered address of an account. */
  LOGIN_FAILURES_MAX: 5,
  /** Failed logins per address: more, so one guesser does not lock out the others behind a NAT. */
  LOGIN_ADDRESS_FAILURES_MAX: 8,
  /** Logins of any outcome per address per minute. */
  LOGIN_ADDRESS_MAX: 40,
  /** Logins of one address checked at once per users instance; as many more wait. */
  LOGIN_ADDRESS_CONCURRENCY: 2,
} as const;
const { LOGIN_FAILURES_MAX, LOGIN_ADDRESS_FAILURES_MAX, LOGIN_ADDRESS_MAX } = LOGIN_LIMITS;

/** Each caller of these tests has its own loopback address, so one test's failures never count in another's. */
const address = (block: number, n: number) => `127.0.${block}.${n + 1}`;

function login(gateway: string, body: object, localAddress: string, headers = {}): Promise<RawResponse> {
  return send(gateway, { method: 'POST', path: '/auth/login', body, localAddress, headers });
}

const throttled = (res: RawResponse) =>
  isProblem(res, 429, 'RATE_LIMITED') && Number(res.headers['retry-after']) > 0;

/**
 * Login limits, counted together by every gateway: failures per username and per address, an owner's
 * usual address let in while its account is locked, and a flood from one client refused before it
 * crowds out anyone else's login.
 */
export function defineLoginLimitCases(target: () => Target): void {
  describe('failed-login limits', () => {
    it('hold per username, across every gateway and any source address', async () => {
      const t = target();
      const { user, password } = await register(createClient(t.gateways[0]!));
      const tally = createTally();
      // Each failure from another address and gateway, in another letter case: only the username is common.
      for (let i = 0; i < LOGIN_FAILURES_MAX; i++) {
        const username = i % 2 === 0 ? user.username : user.username.toUpperCase();
        const res = await login(
          t.gateways[i % t.gateways.length]!,
          { username, password: validPassword() },
          address(10, i),
        );
        expect(isProblem(res, 401, 'INVALID_CREDENTIALS')).toBe(true);
      }
      // Even the right password is refused now, from fresh addresses, through every gateway.
      for (const [i, gateway] of t.gateways.entries()) {
        for (const [j, username] of [user.username, user.username.toUpperCase()].entries()) {
          const from = address(11, i * 2 + j);
          const res = await login(gateway, { username, password }, from, {
            'x-forwarded-for': `10.3.${i}.${j}`,
          });
          tally.check(`${username} from ${from} through gateway ${i + 1}`, res, throttled(res));
        }
      }
      // Control: the addresses the failures came from still log another user in.
      const other = await register(createClient(t.gateways[0]!));
      const ok = await login(
        t.gateways.at(-1)!,
        { username: other.user.username, password: other.password },
        address(10, 0),
      );
      expect(ok.status).toBe(200);
      await tally.settle(t);
    });

    it('hold per address, across every gateway, whatever X-Forwarded-For says', async () => {
      const t = target();
      const { user, password } = await register(createClient(t.gateways[0]!));
      const from = address(20, 0);
      const tally = createTally();
      for (let i = 0; i < LOGIN_ADDRESS_FAILURES_MAX; i++) {
        const headers = { 'x-forwarded-for': `10.4.0.${i}`, 'x-real-ip': `10.4.0.${i}` };
        const body = { username: uniqueUsername('guess'), password: validPassword() };
        const res = await login(t.gateways[i % t.gateways.length]!, body, from, headers);
        expect(isProblem(res, 401, 'INVALID_CREDENTIALS')).toBe(true);
      }
      for (const [i, gateway] of t.gateways.entries()) {
        const spoofed = [
          {},
          { 'x-forwarded-for': '10.5.0.1' },
          { forwarded: 'for=10.5.0.2', 'x-real-ip': '10.5.0.2' },
        ];
        for (const [j, headers] of spoofed.entries()) {
          const res = await login(gateway, { username: user.username, password }, from, headers);
          tally.check(
            `right password from ${from} through gateway ${i + 1}, spoof ${j}`,
            res,
            throttled(res),
          );
        }
      }
      // Control: the same user from another address is let in, so the refusals were the address's.
      const ok = await login(t.gateways[0]!, { username: user.username, password }, address(20, 1));
      expect(ok.status).toBe(200);
      await tally.settle(t);
    });

    it('hold when 100 wrong passwords arrive at once: at most the limit are checked, every 429 says when', async () => {
      const t = target();
      const { user } = await register(createClient(t.gateways[0]!));
      const tally = createTally();
      const races = [
        // One account from 100 addresses, and 100 accounts from one address.
        Array.from({ length: 100 }, (_, i) => ({
          body: { username: user.username, password: validPassword() },
          from: address(30 + Math.floor(i / 50), i % 50),
        })),
        Array.from({ length: 100 }, () => ({
          body: { username: uniqueUsername('race'), password: validPassword() },
          from: address(40, 0),
        })),
      ];
      for (const [n, race] of races.entries()) {
        const answers = await Promise.all(
          race.map(({ body, from }, i) => login(t.gateways[i % t.gateways.length]!, body, from)),
        );
        const limit = n === 0 ? LOGIN_FAILURES_MAX : LOGIN_ADDRESS_FAILURES_MAX;
        const checked = answers.filter((res) => isProblem(res, 401, 'INVALID_CREDENTIALS'));
        expect(checked.length, `race ${n}: passwords checked`).toBeLessThanOrEqual(limit);
        for (const res of answers.filter((res) => res.status !== 401))
          tally.check(
            `race ${n}: refused with Retry-After`,
            res,
            res.status === 429 && Number(res.headers['retry-after']) > 0,
          );
        tally.check(`race ${n}: at most ${limit} checked`, answers[0]!, checked.length <= limit);
      }
      await tally.settle(t);
    });

    it('do not lock an owner out of its usual address; a new address waits, and a password change forgets it', async () => {
      const t = target();
      const { user, password, token } = await register(createClient(t.gateways[0]!));
      const home = address(50, 0);
      const right = { username: user.username, password };
      expect((await login(t.gateways[0]!, right, home)).status).toBe(200);
      // Someone else locks the account from other addresses.
      for (let i = 0; i < LOGIN_FAILURES_MAX; i++) {
        const res = await login(
          t.gateways[i % t.gateways.length]!,
          { username: user.username, password: validPassword() },
          address(51, i),
        );
        expect(isProblem(res, 401, 'INVALID_CREDENTIALS')).toBe(true);
      }
      const tally = createTally();
      for (const [i, gateway] of t.gateways.entries()) {
        const owner = await login(gateway, right, home);
        tally.check(`owner from its usual address through gateway ${i + 1}`, owner, owner.status === 200);
        const stranger = await login(gateway, right, address(52, i));
        tally.check(
          `right password from a new address through gateway ${i + 1}`,
          stranger,
          throttled(stranger),
        );
      }
      // A new password forgets every address: home waits like the rest, then is remembered again.
      const changed = validPassword();
      const patch = await t.send({
        method: 'PATCH',
        path: `/users/${user.id}`,
        token,
        body: { password: changed },
      });
      expect(patch.status).toBe(200);
      const forgotten = await login(t.gateways[0]!, { username: user.username, password: changed }, home);
      tally.check('usual address after a password change', forgotten, throttled(forgotten));
      await tally.settle(t);
    });

    it('do not let one guesser lock out everyone behind its address', async () => {
      const t = target();
      const nat = address(60, 0);
      const victim = await register(createClient(t.gateways[0]!));
      const neighbour = await register(createClient(t.gateways[0]!));
      for (let i = 0; i < LOGIN_FAILURES_MAX; i++) {
        const body = { username: victim.user.username, password: validPassword() };
        const res = await login(t.gateways[i % t.gateways.length]!, body, nat);
        expect(isProblem(res, 401, 'INVALID_CREDENTIALS')).toBe(true);
      }
      const tally = createTally();
      for (const [i, gateway] of t.gateways.entries()) {
        const res = await login(
          gateway,
          { username: neighbour.user.username, password: neighbour.password },
          nat,
        );
        tally.check(
          `a neighbour behind the guesser's address through gateway ${i + 1}`,
          res,
          res.status === 200,
        );
      }
      await tally.settle(t);
    });

    it('refuse a flood of right passwords from one client with Retry-After, and let other users in meanwhile', async () => {
      const t = target();
      const flooder = await register(createClient(t.gateways[0]!));
      const others = await Promise.all(
        Array.from({ length: 4 }, () => register(createClient(t.gateways[0]!))),
      );
      const from = address(70, 0);
      const flood = Array.from({ length: 200 }, (_, i) =>
        login(
          t.gateways[i % t.gateways.length]!,
          { username: flooder.user.username, password: flooder.password },
          from,
        ),
      );
      const bystanders = others.map(({ user, password }, i) =>
        login(t.gateways[i % t.gateways.length]!, { username: user.username, password }, address(71, i)),
      );
      const answers = await Promise.all(flood);
      const tally = createTally();
      for (const [i, res] of (await Promise.all(bystanders)).entries())
        tally.check(`another user's login during the flood (${i + 1})`, res, res.status === 200);
      // Refused at the address, never for a full password checker, and never past the address's rate.
      const admitted = answers.filter((res) => res.status === 200).length;
      expect(admitted, 'flood logins checked').toBeGreaterThan(0);
      tally.check(
        `at most ${LOGIN_ADDRESS_MAX} of the flood checked`,
        answers[0]!,
        admitted <= LOGIN_ADDRESS_MAX,
      );
      for (const res of answers.filter((res) => res.status !== 200))
        tally.check('flood refused RATE_LIMITED with Retry-After', res, throttled(res));
      await tally.settle(t);
    });

    it('limit the logins of an address, right passwords included', async () => {
      const t = target();
      const { user, password } = await register(createClient(t.gateways[0]!));
      const from = address(80, 0);
      for (let i = 0; i < LOGIN_ADDRESS_MAX; i++) {
        const res = await login(
          t.gateways[i % t.gateways.length]!,
          { username: user.username, password },
          from,
        );
        expect(res.status, `login ${i + 1} of ${LOGIN_ADDRESS_MAX}`).toBe(200);
      }
      const tally = createTally();
      for (const [i, gateway] of t.gateways.entries()) {
        const res = await login(gateway, { username: user.username, password }, from);
        tally.check(
          `login ${LOGIN_ADDRESS_MAX + 1 + i} from one address through gateway ${i + 1}`,
          res,
          throttled(res),
        );
      }
      await tally.settle(t);
    });
  });
}
