import { describe, expect, it } from 'vitest';
import { createClient, register, uniqueUsername, validPassword } from '../http-client.ts';
import { type RawResponse, send } from './raw-http.ts';
import { createTally, isProblem, type Target } from './world.ts';

/** The failed logins allowed per username and per address, as the suite configures both topologies. */
export const LOGIN_FAILURES_MAX = 5;

/** Each caller of these tests has its own loopback address, so one test's failures never count in another's. */
const address = (block: number, n: number) => `127.0.${block}.${n + 1}`;

function login(gateway: string, body: object, localAddress: string, headers = {}): Promise<RawResponse> {
  return send(gateway, { method: 'POST', path: '/auth/login', body, localAddress, headers });
}

const throttled = (res: RawResponse) =>
  isProblem(res, 429, 'RATE_LIMITED') && Number(res.headers['retry-after']) > 0;

/** Failed-login limits, per username and per address, counted together by every gateway. */
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
      for (let i = 0; i < LOGIN_FAILURES_MAX; i++) {
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
        const checked = answers.filter((res) => isProblem(res, 401, 'INVALID_CREDENTIALS'));
        expect(checked.length, `race ${n}: passwords checked`).toBeLessThanOrEqual(LOGIN_FAILURES_MAX);
        for (const res of answers.filter((res) => res.status !== 401))
          tally.check(
            `race ${n}: refused with Retry-After`,
            res,
            res.status === 429 && Number(res.headers['retry-after']) > 0,
          );
        tally.check(
          `race ${n}: at most ${LOGIN_FAILURES_MAX} checked`,
          answers[0]!,
          checked.length <= LOGIN_FAILURES_MAX,
        );
      }
      await tally.settle(t);
    });
  });
}
