/**
 * Every route in /openapi.json with generated paths, queries, headers and
 * bodies (fast-check, seeded, a few thousand requests per database): no
 * answer is a 5xx. The 20,000-request run with a forced database outage is
 * `npm run bench -- fuzz`.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describeEachBackend } from '../helpers/db.ts';
import { fuzzWorld } from './fuzz-world.ts';
import { operationsOf, requestArbitrary } from './fuzz-requests.ts';
import type { Runtime } from '../../src/runtime.ts';
import { skipFloorWaits } from '../helpers/app.ts';

const RUNS = Number(process.env.DOSIS_FUZZ_RUNS ?? 2000);
const SEED = Number(process.env.DOSIS_FUZZ_SEED ?? 1515);

describeEachBackend('fuzz: every route, generated input, never a 5xx', (t) => {
  let rt: Runtime | undefined;

  it(`${RUNS} generated requests (seed ${SEED}) answer below 500`, async () => {
    const w = await fuzzWorld(t.db);
    rt = w.rt;
    skipFloorWaits(rt);
    const doc = (await rt.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const ops = operationsOf(doc);
    assert.ok(ops.length >= 50, `the document lists the routes (${ops.length})`);
    let sent = 0;
    const app = rt.app;
    await fc.assert(
      fc.asyncProperty(requestArbitrary(ops, w.world), async (req) => {
        sent++;
        const r = await app.inject(req);
        if (r.statusCode >= 500) throw new Error(`${req.method} ${req.url} → ${r.statusCode} ${r.body.slice(0, 300)}`);
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    assert.ok(sent >= RUNS, `${sent} requests sent`);
  });
});
