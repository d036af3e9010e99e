/**
 * The hand-off of every dose to SATUSEHAT (issue 21) against a real FHIR
 * server (test/helpers/satusehat-peer.ts: Medplum's FhirRouter and
 * MemoryRepository behind SATUSEHAT's OAuth2 and paths), on both databases.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { describeEachBackend } from '../helpers/db.ts';
import { ADMIN_TOKEN, bearer, doseBody, facilityWithToken, person, testRuntime } from '../helpers/app.ts';
import { SatusehatPeer, byVaccination, peerOutcome } from '../helpers/satusehat-peer.ts';
import type { Runtime } from '../../src/runtime.ts';
import type { Worker } from '../../src/notify/outbox.ts';
import type { Db } from '../../src/db/client.ts';
import { LANES } from '../../src/notify/jobs.ts';
import { ConfigError, parseConfig } from '../../src/config.ts';
import { switchSync } from '../../src/satusehat/sync.ts';
import { backfill } from '../../src/satusehat/cli.ts';
import { immunization, patientResource } from '../helpers/fhir-bundles.ts';
import { runDosis } from '../helpers/server.ts';
import type { Encounter, Immunization } from '@medplum/fhirtypes';

// What the count proves: every dose handed over once, none lost or doubled, while the sync lane runs
// its hand-offs side by side (4 in flight at this worker's concurrency, each claim of the lane's room)
// for many claims in a row. 200 doses are 50 such claims; 1,000 (DOSIS_SATUSEHAT_DOSES=1000) only cost
// five times the CPU (each dose is a signed record and three FHIR requests validated by the peer).
const DOSES = Number(process.env.DOSIS_SATUSEHAT_DOSES ?? 200);

/** Runs the worker until no hand-off job is pending (or the deadline passes). */
export async function settle(db: Db, w: Worker, deadlineMs = 120_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    await w.drain();
    const r = await db.query<{ n: number }>("SELECT count(*)::int8 AS n FROM jobs WHERE kind = 'satusehat_sync' AND status = 'pending'");
    if (Number(r.rows[0]!.n) === 0) return;
    if (Date.now() > end) throw new Error(`${r.rows[0]!.n} hand-off jobs still pending`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

it('the sync lane is the lowest: claimed after every other lane', () => {
  assert.equal(LANES[LANES.length - 1], 'sync');
});

it('the configuration: off when unset, all five required once any is set, each named', () => {
  assert.equal(parseConfig({}).satusehat, undefined);
  const full = { SATUSEHAT_URL: 'https://s.test/fhir-r4/v1', SATUSEHAT_AUTH_URL: 'https://s.test/oauth2/v1', SATUSEHAT_CLIENT_ID: 'id', SATUSEHAT_CLIENT_SECRET: 'secret', SATUSEHAT_ORGANIZATION_ID: '100000001' };
  assert.equal(parseConfig(full).satusehat?.organizationId, '100000001');
  for (const k of Object.keys(full)) {
    const env: Record<string, string> = { ...full };
    delete env[k];
    assert.throws(() => parseConfig(env), (e: Error) => e instanceof ConfigError && e.message.startsWith(`${k} is required`), k);
  }
  assert.throws(() => parseConfig({ ...full, SATUSEHAT_URL: 'ftp://x' }), /SATUSEHAT_URL must be an http\(s\) URL/);
});

it('dosis satusehat backfill: refuses without the configuration, naming it; bad options are named', async () => {
  const off = await runDosis(['satusehat', 'backfill'], { env: { DOSIS_DATA_DIR: 'test-results/satusehat-cli-data' } });
  assert.equal(off.code, 2, off.stderr);
  assert.match(off.stderr, /SATUSEHAT_URL/);
  const since = await runDosis(['satusehat', 'backfill', '--since', '10-06-2021'], { env: { DOSIS_DATA_DIR: 'test-results/satusehat-cli-data' } });
  assert.equal(since.code, 2, since.stderr);
  assert.match(since.stderr, /--since must be a date/);
  const help = await runDosis(['satusehat', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /backfill \[--since DATE\] \[--facility CODE\]/);
});

describeEachBackend('SATUSEHAT hand-off', (t) => {
  let peer: SatusehatPeer;
  let rt: Runtime;
  let w: Worker;
  let fac: { code: string; token: string };

  before(async () => {
    peer = await SatusehatPeer.start();
    rt = await testRuntime(t.db, { ...peer.env(), SATUSEHAT_RETRY_BASE_MS: '100', SATUSEHAT_RETRY_MAX_MS: '800' });
    fac = await facilityWithToken(t.db);
    await t.db.query("UPDATE facilities SET satusehat_location_id = 'LOC-1' WHERE code = $1", [fac.code]);
    await t.db.query("INSERT INTO vaccine_lots (vaccine, lot_key, lot, expires_on) VALUES ('CORONAVAC', 'A123', 'A123', '2022-12-31'), ('CORONAVAC', 'BAD-LOT', 'BAD-LOT', '2022-12-31')");
    w = rt.deps.notify.worker({ concurrency: 32, batchSize: 50 });
  });
  after(async () => {
    await rt?.app.close();
    await peer?.close();
  });

  /** Records `n` doses of new people (registered in the peer unless `known` is false); returns their vaccination ids. */
  async function record(n: number, o: { known?: boolean; lot?: (i: number) => string } = {}): Promise<{ vid: string; personId: string; ihs: string | null }[]> {
    const out: { vid: string; personId: string; ihs: string | null }[] = new Array(n);
    let next = 0;
    const one = async () => {
      for (let i = next++; i < n; i = next++) {
        const p = person();
        const ihs = o.known === false ? null : await peer.addPatient(p.nik, p.name);
        const res = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(fac.token), payload: doseBody(p, { lot: o.lot?.(i) ?? 'A123' }) });
        assert.equal(res.statusCode, 201, res.body);
        const b = res.json<{ vaccination: { id: string }; person: { id: string } }>();
        out[i] = { vid: b.vaccination.id, personId: b.person.id, ihs };
      }
    };
    await Promise.all(Array.from({ length: 8 }, one));
    return out;
  }

  async function states(vids: string[]): Promise<Map<string, { state: string; immunization_id: string | null }>> {
    const r = await t.db.query<{ vaccination_id: string; state: string; immunization_id: string | null }>(
      'SELECT vaccination_id, state, immunization_id FROM satusehat_sync WHERE vaccination_id = ANY($1::uuid[])',
      [vids],
    );
    return new Map(r.rows.map((x) => [x.vaccination_id, x]));
  }

  it(`${DOSES} doses recorded → ${DOSES} Immunizations in the peer, each once, with the patient's IHS reference`, async () => {
    const doses = await record(DOSES);
    // Each dose's job was written with it, in the sync lane.
    const jobs = await t.db.query<{ n: number }>("SELECT count(*)::int8 AS n FROM jobs WHERE kind = 'satusehat_sync' AND lane = 'sync'");
    assert.equal(Number(jobs.rows[0]!.n), DOSES);
    const started = Date.now();
    await settle(t.db, w);
    console.log(`# ${DOSES} doses handed to the peer in ${((Date.now() - started) / 1000).toFixed(1)} s [${t.backend}] (loaded machine)`);
    const held = byVaccination(await peer.all<Immunization>('Immunization'));
    const st = await states(doses.map((d) => d.vid));
    for (const d of doses) {
      const imms = held.get(d.vid) ?? [];
      assert.equal(imms.length, 1, `dose ${d.vid}: ${imms.length} Immunizations`);
      assert.equal(imms[0]!.patient.reference, `Patient/${d.ihs}`);
      assert.ok(imms[0]!.encounter?.reference?.startsWith('Encounter/'));
      assert.equal(st.get(d.vid)?.state, 'synced');
      assert.equal(st.get(d.vid)?.immunization_id, imms[0]!.id);
    }
    const ihs = await t.db.query<{ n: number }>('SELECT count(*)::int8 AS n FROM people WHERE id = ANY($1::uuid[]) AND ihs_number IS NOT NULL', [doses.map((d) => d.personId)]);
    assert.equal(Number(ihs.rows[0]!.n), DOSES);
    // The timeline shows it.
    const tl = await rt.app.inject({ method: 'GET', url: `/api/v1/people/${doses[0]!.personId}/timeline`, headers: bearer(ADMIN_TOKEN) });
    assert.equal(tl.statusCode, 200, tl.body);
    assert.match(tl.body, /"synced"/);
    assert.ok(tl.body.includes(String(st.get(doses[0]!.vid)?.immunization_id)));
  });

  it('a peer answering 500 for a while, then recovering: nothing lost, nothing doubled, nothing rejected', async () => {
    const doses = await record(40);
    // From here, not before the doses are recorded: on a loaded machine, recording 40 took longer than the
    // outage, and no hand-off (they start in settle) met it.
    peer.failFor(3000, 500);
    await settle(t.db, w);
    const held = byVaccination(await peer.all<Immunization>('Immunization'));
    for (const d of doses) assert.equal(held.get(d.vid)?.length, 1, `dose ${d.vid}`);
    const st = await states(doses.map((d) => d.vid));
    assert.deepEqual([...new Set([...st.values()].map((s) => s.state))], ['synced']);
    const cases = await t.db.query<{ n: number }>("SELECT count(*)::int8 AS n FROM cases WHERE kind LIKE 'satusehat%' AND person_id = ANY($1::uuid[])", [doses.map((d) => d.personId)]);
    assert.equal(Number(cases.rows[0]!.n), 0);
    const retried = await t.db.query<{ n: number }>("SELECT count(*)::int8 AS n FROM jobs WHERE kind = 'satusehat_sync' AND attempts > 1");
    assert.ok(Number(retried.rows[0]!.n) > 0, 'some hand-offs were retried');
    assert.ok((peer.counts.byStatus.get(500) ?? 0) > 0);
  });

  it('a 429 waits for Retry-After; an expired token is fetched again once', async () => {
    const before = peer.counts.tokens;
    peer.expireTokens();
    peer.rateLimit(3, 1);
    const doses = await record(3);
    await settle(t.db, w);
    const st = await states(doses.map((d) => d.vid));
    assert.deepEqual([...st.values()].map((s) => s.state), ['synced', 'synced', 'synced']);
    assert.equal(peer.counts.tokens, before + 1, 'one new token for the whole worker');
    assert.ok((peer.counts.byStatus.get(429) ?? 0) >= 3);
  });

  it('a 4xx with an OperationOutcome puts exactly that dose on the work list, in words; send again after correction', async () => {
    peer.reject((imm) => (imm.lotNumber === 'BAD-LOT' ? peerOutcome('business-rule', 'Nomor batch tidak terdaftar di KFA (lot not registered)', 'Immunization.lotNumber') : null));
    const doses = await record(6, { lot: (i) => (i === 2 ? 'BAD-LOT' : 'A123') });
    await settle(t.db, w);
    const bad = doses[2]!;
    const st = await states(doses.map((d) => d.vid));
    for (const d of doses) assert.equal(st.get(d.vid)?.state, d === bad ? 'rejected' : 'synced');
    const list = await rt.app.inject({ method: 'GET', url: '/api/v1/cases?kind=satusehat_rejected', headers: bearer(ADMIN_TOKEN) });
    const cases = list.json<{ cases: { id: string; subjectId: string; detail: { reason: string } }[] }>().cases;
    assert.deepEqual(cases.map((c) => c.subjectId), [bad.vid]);
    assert.match(cases[0]!.detail.reason, /lot not registered\) \(Immunization\.lotNumber\)/);
    assert.equal(byVaccination(await peer.all<Immunization>('Immunization')).get(bad.vid), undefined);

    peer.reject(null);
    const again = await rt.app.inject({ method: 'POST', url: `/api/v1/cases/${cases[0]!.id}/satusehat/send-again`, headers: bearer(ADMIN_TOKEN) });
    assert.equal(again.statusCode, 200, again.body);
    await settle(t.db, w);
    assert.equal((await states([bad.vid])).get(bad.vid)?.state, 'synced');
    assert.equal(byVaccination(await peer.all<Immunization>('Immunization')).get(bad.vid)?.length, 1);
    const wrong = await rt.app.inject({ method: 'POST', url: `/api/v1/cases/${cases[0]!.id}/satusehat/send-again`, headers: bearer(ADMIN_TOKEN) });
    assert.equal(wrong.statusCode, 409, wrong.body);
  });

  it('a person SATUSEHAT does not know is a satusehat_patient_not_found case, not a retry loop', async () => {
    const [d] = await record(1, { known: false });
    await settle(t.db, w);
    assert.equal((await states([d!.vid])).get(d!.vid)?.state, 'patient_not_found');
    const c = await t.db.query<{ n: number }>("SELECT count(*)::int8 AS n FROM cases WHERE kind = 'satusehat_patient_not_found' AND subject_id = $1 AND status = 'open'", [d!.vid]);
    assert.equal(Number(c.rows[0]!.n), 1);
    const j = await t.db.query<{ attempts: number; status: string }>("SELECT attempts, status FROM jobs WHERE dedupe_key = $1", [`satusehat:${d!.vid}`]);
    assert.deepEqual(j.rows[0], { attempts: 1, status: 'done' });
  });

  it('a voided dose is sent as entered-in-error, to the same record', async () => {
    const [d] = await record(1);
    await settle(t.db, w);
    const v = await rt.app.inject({ method: 'POST', url: `/api/v1/vaccinations/${d!.vid}/void`, headers: bearer(ADMIN_TOKEN), payload: { reason: 'recorded for the wrong person' } });
    assert.equal(v.statusCode, 200, v.body);
    await settle(t.db, w);
    const imms = byVaccination(await peer.all<Immunization>('Immunization')).get(d!.vid) ?? [];
    assert.equal(imms.length, 1);
    assert.equal(imms[0]!.status, 'entered-in-error');
  });

  it('a dose recorded by another path is queued in the same write too: a FHIR transaction Bundle', async () => {
    const p = person();
    const ihs = await peer.addPatient(p.nik, p.name);
    const ref = 'urn:uuid:5b7e2c1a-3d4f-4e5a-8b6c-7d8e9f0a1b2c';
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: ref, resource: patientResource(p), request: { method: 'POST', url: 'Patient' } },
        { resource: immunization(ref, { dose: 1, date: '2021-06-10', lot: 'A123' }), request: { method: 'POST', url: 'Immunization' } },
      ],
    };
    const res = await rt.app.inject({ method: 'POST', url: '/api/v1/fhir/Bundle', headers: { ...bearer(fac.token), 'content-type': 'application/fhir+json' }, payload: JSON.stringify(bundle) });
    assert.equal(res.statusCode, 200, res.body);
    const personId = res.json<{ entry: { response: { location: string } }[] }>().entry[0]!.response.location.replace('Patient/', '');
    const q = await t.db.query<{ vaccination_id: string; lane: string }>(
      `SELECT s.vaccination_id, j.lane FROM satusehat_sync s JOIN jobs j ON j.dedupe_key = 'satusehat:' || s.vaccination_id::text WHERE s.person_id = $1`,
      [personId],
    );
    assert.equal(q.rows.length, 1);
    assert.equal(q.rows[0]!.lane, 'sync');
    await settle(t.db, w);
    const imms = byVaccination(await peer.all<Immunization>('Immunization')).get(q.rows[0]!.vaccination_id) ?? [];
    assert.equal(imms.length, 1);
    assert.equal(imms[0]!.patient.reference, `Patient/${ihs}`);
  });

  it('a merge that renumbers sends the update to the same records', async () => {
    const a = person();
    const b = person({ name: a.name, birthDate: a.birthDate, sex: a.sex });
    const ids: { vid: string; personId: string }[] = [];
    // A's dose 1 of July; B's record holds the June dose, entered as a dose 2 (it claims an earlier one).
    for (const [p, date, doseNumber] of [[a, '2021-07-10', 1], [b, '2021-06-10', 2]] as const) {
      await peer.addPatient(p.nik, p.name);
      const res = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(fac.token), payload: doseBody(p, { date, doseNumber }) });
      assert.equal(res.statusCode, 201, res.body);
      const body = res.json<{ vaccination: { id: string }; person: { id: string } }>();
      ids.push({ vid: body.vaccination.id, personId: body.person.id });
    }
    await settle(t.db, w);
    const writes = peer.counts.immunizationWrites;
    const encounterOf = async () => new Map((await peer.all<Immunization>('Immunization')).map((i) => [i.identifier?.[0]?.value, i.encounter?.reference]));
    const encountersBefore = await encounterOf();
    // Compacted once synced: the Encounter's id is not kept (the next hand-off finds it again).
    const kept = await t.db.query('SELECT 1 FROM satusehat_sync WHERE vaccination_id = ANY($1::uuid[]) AND encounter_id IS NOT NULL', [ids.map((x) => x.vid)]);
    assert.equal(kept.rowCount, 0);
    const m = await rt.app.inject({ method: 'POST', url: `/api/v1/people/${ids[0]!.personId}/merge`, headers: bearer(ADMIN_TOKEN), payload: { from: ids[1]!.personId } });
    assert.equal(m.statusCode, 200, m.body);
    await settle(t.db, w);
    const held = byVaccination(await peer.all<Immunization>('Immunization'));
    assert.equal(held.get(ids[0]!.vid)?.length, 1);
    assert.equal(held.get(ids[1]!.vid)?.length, 1);
    // Renumbered by date: June is dose 1, July dose 2 of the survivor; both records updated in place.
    assert.equal(held.get(ids[1]!.vid)![0]!.protocolApplied?.[0]?.doseNumberPositiveInt, 1);
    assert.equal(held.get(ids[0]!.vid)![0]!.protocolApplied?.[0]?.doseNumberPositiveInt, 2);
    assert.ok(peer.counts.immunizationWrites > writes, 'updated');
    // The updates name the Encounter of the first hand-off, found again by its identifier: no second Encounter.
    const encountersAfter = await encounterOf();
    for (const x of ids) assert.equal(encountersAfter.get(x.vid), encountersBefore.get(x.vid));
    const encounters = (await peer.all<Encounter>('Encounter')).filter((e) => ids.some((x) => x.vid === e.identifier?.[0]?.value));
    assert.equal(encounters.length, 2);
  });

  it('backfill queues what was never sent, once; a second run queues nothing', async () => {
    await switchSync(t.db, false);
    const doses = await record(4);
    await switchSync(t.db, true);
    const never = await states(doses.map((d) => d.vid));
    assert.equal(never.size, 0, 'recorded while the hand-off was off: not queued');
    const first = await backfill(t.db, { facility: fac.code, since: '2021-01-01' });
    assert.equal(first.queued, 4);
    const second = await backfill(t.db, { facility: fac.code });
    assert.equal(second.queued, 0);
    await settle(t.db, w);
    const held = byVaccination(await peer.all<Immunization>('Immunization'));
    for (const d of doses) assert.equal(held.get(d.vid)?.length, 1);
  });

  it('the pipeline view and /metrics count the hand-off', async () => {
    const p = await rt.app.inject({ method: 'GET', url: '/api/v1/stats/pipeline', headers: bearer(ADMIN_TOKEN) });
    assert.equal(p.statusCode, 200, p.body);
    const stages = new Map(p.json<{ stages: { stage: string; count: number }[] }>().stages.map((s) => [s.stage, s.count]));
    const synced = Number((await t.db.query<{ n: number }>("SELECT count(*)::int8 AS n FROM satusehat_sync WHERE state = 'synced'")).rows[0]!.n);
    assert.equal(stages.get('satusehat_synced'), synced);
    assert.ok((stages.get('satusehat_rejected') ?? 0) >= 1);
    const m = await rt.app.inject({ method: 'GET', url: '/metrics' });
    assert.match(m.body, new RegExp(`dosis_satusehat_doses\\{state="synced"\\} ${synced}\n`));
  });
});
