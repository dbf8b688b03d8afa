import { randomInt } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BAD_INPUT_ENV, prepareWorld, send, verdict, type World } from '../support/bad-input.ts';
import { recordFigures } from '../support/figures.ts';
import { requestArbitrary } from '../support/fuzz-requests.ts';
import { type OpenApiDocument, operationsOf } from '../support/openapi-fuzz.ts';
import { needs } from '../support/services.ts';
import { type ShopHandle, startMonolith } from '../support/shop.ts';
import { startSplit } from '../support/split.ts';
import { defineBadBodyCases } from './bad-input-bodies.suite.ts';
import { defineBadWireCases } from './bad-input-wire.suite.ts';

/** Replay a failure with the seed it printed: `SPLITSHOP_FUZZ_SEED=<seed> npm run test:faults`. */
const SEED = Number(process.env.SPLITSHOP_FUZZ_SEED ?? randomInt(2 ** 31 - 1));
/** Requests go out in concurrent batches; 550 batches of 10 per topology keep the run over 10,000. */
const BATCH = 10;
const RUNS = Number(process.env.SPLITSHOP_FUZZ_RUNS ?? 550);

const topologies = [
  { name: 'monolith', start: () => startMonolith(BAD_INPUT_ENV), skip: false },
  {
    name: 'split',
    start: () => startSplit(BAD_INPUT_ENV),
    skip: !(await needs('postgres', 'rabbitmq', 'redis')),
  },
];

for (const topology of topologies) {
  const suite = `bad input (${topology.name})`;

  describe.skipIf(topology.skip)(suite, () => {
    let shop: ShopHandle | undefined;
    let world: World;
    beforeAll(async () => {
      shop = await topology.start();
      world = await prepareWorld(shop);
    });
    afterAll(() => shop?.stop());

    it(`answers ${RUNS * BATCH} requests generated from the OpenAPI document: no 5xx, every 4xx a problem, 2xx only when valid`, async () => {
      const document = await world.client.request<OpenApiDocument>('GET', '/openapi.json');
      expect(document.status).toBe(200);
      const operations = operationsOf(document.body);
      // The document is the source of the routes: if it lost them, the fuzzing would prove nothing.
      expect(operations.map((o) => `${o.method} ${o.path}`)).toEqual(
        expect.arrayContaining([
          'POST /orders',
          'PATCH /users/{id}',
          'PATCH /products/{id}',
          'GET /payments',
        ]),
      );
      console.info(`${suite}: fast-check seed ${SEED}; replay with SPLITSHOP_FUZZ_SEED=${SEED}`);
      const requests = fc.array(requestArbitrary(operations, world.known), {
        minLength: BATCH,
        maxLength: BATCH,
      });
      let tried = 0;
      let errors5xx = 0;
      let accepted = 0;
      await fc.assert(
        fc.asyncProperty(requests, async (batch) => {
          const answers = await Promise.all(batch.map((request) => send(world, request)));
          tried += batch.length;
          const wrong = batch.flatMap((request, i) => {
            const res = answers[i]!;
            if (res.status >= 500) errors5xx += 1;
            if (res.status >= 200 && res.status < 300) accepted += 1;
            const why = verdict(request, res);
            if (why === undefined) return [];
            const { method, path, caller, headers, body } = request;
            return [{ why, method, path, caller, headers, body, answer: res.text.slice(0, 500) }];
          });
          expect(wrong).toEqual([]);
        }),
        { seed: SEED, numRuns: RUNS },
      );
      // Valid requests must have reached the handlers (one in twenty at least), or "2xx only when valid"
      // proved nothing.
      expect(accepted * 20).toBeGreaterThan(tried);
      expect(errors5xx).toBe(0);
      recordFigures(suite, { badInputs: { tried, errors5xx } });
    }, 300_000);

    defineBadBodyCases(suite, () => world);
    defineBadWireCases(suite, () => world);
  });
}
