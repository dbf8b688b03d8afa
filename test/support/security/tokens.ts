import { describe, expect, it } from 'vitest';
import type { UserDto } from '../http-client.ts';
import { FORGERIES, type ForgeryInputs, MALFORMED_AUTHORIZATION, WITHIN_SKEW } from './forge-jwt.ts';
import { authenticatedProbes, OPERATIONS } from './routes.ts';
import { createTally, expectWorldIntact, isProblem, type Target } from './world.ts';

function inputsOf(target: Target): ForgeryInputs {
  const [victim, other] = target.world.customers;
  return { admin: target.world.adminToken, customer: victim!.token, otherUserId: other!.user.id };
}

/** JWT: every forgery on every authenticated operation is a 401, and a genuine token within the skew is not. */
export function defineTokenCases(target: () => Target): void {
  describe('bearer tokens', () => {
    it('refuses every forged, expired, premature or misaddressed token with 401 on every authenticated operation', async () => {
      const t = target();
      const probes = authenticatedProbes(t.world, t.world.customers[0]!);
      const authenticated = Object.entries(OPERATIONS).filter(([, access]) => access !== 'public');
      expect(new Set(probes.map((p) => p.operation))).toEqual(new Set(authenticated.map(([op]) => op)));
      const inputs = inputsOf(t);
      const tally = createTally();
      const attempts = [
        ...FORGERIES.map((f) => ({ what: f.what, headers: { authorization: `Bearer ${f.make(inputs)}` } })),
        ...MALFORMED_AUTHORIZATION.map((authorization) => ({
          what: authorization,
          headers: { authorization },
        })),
        // The token somewhere a bearer token does not go: never read from there.
        {
          what: 'admin token as a cookie',
          headers: { cookie: `token=${inputs.admin}; access_token=${inputs.admin}` },
        },
        { what: 'admin token in X-Access-Token', headers: { 'x-access-token': inputs.admin } },
        {
          what: 'admin token as Proxy-Authorization',
          headers: { 'proxy-authorization': `Bearer ${inputs.admin}` },
        },
      ];
      for (const attempt of attempts) {
        for (const probe of probes) {
          const res = await t.send({ ...probe, headers: attempt.headers });
          tally.check(`${attempt.what}: ${probe.operation}`, res, isProblem(res, 401, 'UNAUTHORIZED'));
        }
      }
      // Nor in the query string.
      for (const path of ['/users/me', '/orders', '/notifications']) {
        const res = await t.send({ path: `${path}?access_token=${inputs.admin}&token=${inputs.admin}` });
        tally.check(`admin token in the query: ${path}`, res, res.status === 401 || res.status === 400);
      }
      await tally.settle(t, () => expectWorldIntact(t));
    });

    it('accepts a genuine token within the clock skew, so the refusals were for their claims', async () => {
      const t = target();
      const inputs = inputsOf(t);
      for (const control of WITHIN_SKEW) {
        const res = await t.send({ path: '/users/me', token: control.make(inputs) });
        expect({ what: control.what, status: res.status }).toEqual({ what: control.what, status: 200 });
        expect((res.body as UserDto).id).toBe(t.world.adminId);
      }
    });
  });
}
