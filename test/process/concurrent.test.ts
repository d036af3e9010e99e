/**
 * Concurrency (issue 2, must-show): 1,000 doses recorded at once through a
 * real `dosis serve` on PostgreSQL give 1,000 certificates that each verify,
 * no duplicate, and replays that answer 200 with the same body. In the same
 * burst, doses of one person race each other:
 *  - dose 1 and dose 2 of a new person at once → one person, one record of each dose;
 *  - the same dose twice at once with two keys → one record, the other a 409 naming it;
 *  - the same dose twice at once with one key → one record, the other a 200 replay.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Agent } from 'node:http';
import { POSTGRES_SKIP } from '../helpers/db.ts';
import { PeopleGenerator, doseRequest } from '../helpers/people.ts';
import {
  createScratchDatabase,
  facilityToken,
  keepAliveAgent,
  request,
  startServer,
  type DosisServer,
  type HttpAnswer,
  type ScratchDatabase,
} from '../helpers/server.ts';
import { postgresDb, type Db } from '../../src/db/client.ts';

const ADMIN = 'dos_concurrency_admin_token_0123456789';
const DOSES = 1000;
const RACES = 25; // people per kind of race
const CONNECTIONS = 64;


describe('recording concurrently [postgres]', { skip: POSTGRES_SKIP }, () => {
  let scratch: ScratchDatabase;
  let server: DosisServer;
  let db: Db;
  let agent: Agent;
  let auth: { authorization: string };
  const post = (body: unknown, key: string): Promise<HttpAnswer> =>
    request(server.url, 'POST', '/api/v1/vaccinations', body, { ...auth, 'idempotency-key': key }, { agent });

  before(async () => {
    scratch = await createScratchDatabase('dosis_conc');
    server = await startServer({ env: { DATABASE_URL: scratch.url, DOSIS_ADMIN_TOKEN: ADMIN, DOSIS_WORKER: 'false' } });
    auth = { authorization: `Bearer ${await facilityToken(server.url, ADMIN, 'PKM-CONC')}` };
    db = postgresDb({ connectionString: scratch.url, max: 2 });
    agent = keepAliveAgent(CONNECTIONS);
  });

  after(async () => {
    agent?.destroy();
    await db?.close();
    await server?.stop();
    await scratch?.drop();
  });

  it(`records ${DOSES} doses at once, each with a certificate that verifies; same-person races end in one record per dose`, async (t) => {
    const people = new PeopleGenerator();
    const singles = people.take(DOSES).map((p, i) => ({ key: `single-${i}`, body: doseRequest(p) }));
    const series = people.take(RACES); // dose 1 and dose 2 at once
    const twiceTwoKeys = people.take(RACES); // the same dose twice, two keys
    const twiceOneKey = people.take(RACES); // the same dose twice, one key

    // Everything is sent at once; the agent spreads it over CONNECTIONS keep-alive connections.
    const started = Date.now();
    const [singleAnswers, seriesAnswers, twoKeyAnswers, oneKeyAnswers] = await Promise.all([
      Promise.all(singles.map((s) => post(s.body, s.key))),
      Promise.all(series.map((p, i) => Promise.all([post(doseRequest(p, { doseNumber: 1 }), `series-${i}-1`), post(doseRequest(p, { doseNumber: 2 }), `series-${i}-2`)]))),
      Promise.all(twiceTwoKeys.map((p, i) => Promise.all([post(doseRequest(p), `twice-${i}-a`), post(doseRequest(p), `twice-${i}-b`)]))),
      Promise.all(twiceOneKey.map((p, i) => Promise.all([post(doseRequest(p), `same-${i}`), post(doseRequest(p), `same-${i}`)]))),
    ]);
    const elapsed = Date.now() - started;

    // 1,000 independent doses: all recorded, each with its own certificate.
    const bad = singleAnswers.filter((a) => a.status !== 201);
    assert.deepEqual(bad.map((a) => `${a.status} ${a.text}`).slice(0, 5), [], 'every dose is recorded (201)');
    const uvcis = new Set(singleAnswers.map((a) => a.body.certificate.uvci as string));
    assert.equal(uvcis.size, DOSES, 'a distinct certificate per dose');

    // Dose 1 and dose 2 of one new person at once: both recorded, one person.
    for (const [i, [d1, d2]] of seriesAnswers.entries()) {
      assert.equal(d1.status, 201, `series ${i} dose 1: ${d1.text}`);
      assert.equal(d2.status, 201, `series ${i} dose 2: ${d2.text}`);
      assert.equal(d1.body.person.id, d2.body.person.id, 'both doses belong to one person');
      assert.equal(d1.body.vaccination.status, 'recorded');
      // Dose 2 may have won the race: then it claimed a prior dose, which dose 1 then supplied.
      assert.ok(['recorded', 'claims_prior_dose'].includes(d2.body.vaccination.status as string), d2.text);
    }
    // The same dose twice with two keys: one record, the other a 409 naming it.
    for (const [i, pair] of twoKeyAnswers.entries()) {
      const statuses = pair.map((a) => a.status).sort();
      assert.deepEqual(statuses, [201, 409], `same dose twice, two keys (${i}): ${pair.map((a) => a.text).join(' | ')}`);
      const won = pair.find((a) => a.status === 201)!;
      const lost = pair.find((a) => a.status === 409)!;
      assert.equal(lost.body.error.code, 'dose_already_recorded');
      assert.equal(lost.body.error.detail.vaccinationId, won.body.vaccination.id, 'the 409 names the record that won');
    }
    // The same dose twice with one key: one record, the other its replay.
    for (const [i, pair] of oneKeyAnswers.entries()) {
      const statuses = pair.map((a) => a.status).sort();
      assert.deepEqual(statuses, [200, 201], `same dose twice, one key (${i}): ${pair.map((a) => a.text).join(' | ')}`);
      assert.deepEqual(pair[0].body, pair[1].body, 'the replay answers the first answer');
    }

    // The database holds exactly what was answered.
    const expected = DOSES + 2 * RACES + RACES + RACES;
    const counts = await db.query<{ vac: number; cert: number; jobs: number; people: number; dup: number }>(
      `SELECT (SELECT count(*) FROM vaccinations)::int8 AS vac,
              (SELECT count(*) FROM certificates)::int8 AS cert,
              (SELECT count(*) FROM jobs WHERE kind = 'notify')::int8 AS jobs,
              (SELECT count(*) FROM people)::int8 AS people,
              (SELECT count(*) FROM (SELECT 1 FROM vaccinations GROUP BY person_id, dose_number HAVING count(*) > 1) d)::int8 AS dup`,
    );
    assert.deepEqual(counts.rows[0], { vac: expected, cert: expected, jobs: expected, people: DOSES + 3 * RACES, dup: 0 });

    // Every certificate verifies; every replay answers 200 with the first body.
    const verifyStarted = Date.now();
    const verified = await Promise.all(singleAnswers.map((a) => request(server.url, 'POST', '/api/v1/verify', { qr: a.body.certificate.qr }, {}, { agent })));
    for (const [i, v] of verified.entries()) {
      assert.equal(v.status, 200, v.text);
      assert.equal(v.body.valid, true, `certificate ${i}: ${v.text}`);
      assert.equal(v.body.payload.v[0].ci, singleAnswers[i]!.body.certificate.uvci);
    }
    const verifyMs = Date.now() - verifyStarted;
    const replays = await Promise.all(singles.map((s) => post(s.body, s.key)));
    for (const [i, r] of replays.entries()) {
      assert.equal(r.status, 200, `replay ${i}: ${r.text}`);
      assert.deepEqual(r.body, singleAnswers[i]!.body, `replay ${i} answers the first answer`);
    }
    const after = await db.query<{ n: number }>('SELECT count(*)::int8 AS n FROM vaccinations');
    assert.equal(after.rows[0]!.n, expected, 'replays wrote nothing');
    t.diagnostic(`${DOSES + 6 * RACES} requests at once over ${CONNECTIONS} connections in ${elapsed} ms; ${DOSES} verified in ${verifyMs} ms`);
  });
});
