/**
 * Issue 15, item 1 — takeover by NIK. A facility token that knows only a
 * person's NIK and birth date (NIKs are widely leaked) records a dose under
 * another name and its own phone. Before the fix the answer returned the
 * real name and phone, the phone on record was replaced, and the person
 * moved into the attacker's scope. Now: the dose is recorded and held, the
 * answer carries nothing stored, the phone on record stays, cases are open,
 * and the number on record is told once when a change is later confirmed.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { describeEachBackend } from '../helpers/db.ts';
import { ADMIN_TOKEN, bearer, doseBody, facilityWithToken, person, testRuntime, tokenFor } from '../helpers/app.ts';
import { toCsv } from '../fixtures/import-files.ts';
import { importRunnerOf } from '../../src/http/routes/imports.ts';
import type { Runtime } from '../../src/runtime.ts';
import type { Worker } from '../../src/notify/outbox.ts';

interface Sms {
  to: string;
  text: string;
}

describeEachBackend('security: takeover by NIK', (t) => {
  let rt: Runtime;
  let worker: Worker;
  let home: { code: string; token: string };
  let attacker: { code: string; token: string };
  let district: string;
  let support: string;
  const victim = person({ name: 'Siti Rahmawati', phone: '0812-4455-6677' });
  const victimPhone = '+6281244556677';
  const attackerPhone = '+6285799887766';
  let victimId = '';
  let firstDoseId = '';

  const as = (token: string, method: 'GET' | 'POST', url: string, payload?: object) =>
    rt.app.inject({ method, url, headers: bearer(token), ...(payload ? { payload } : {}) });
  const sink = async (): Promise<Sms[]> => (await as(ADMIN_TOKEN, 'GET', '/api/v1/sms/sink')).json().messages;
  const to = async (e164: string) => (await sink()).filter((m) => m.to === e164);
  const phoneOnRecord = async () => (await t.db.query<{ phone: string }>('SELECT phone FROM people WHERE id = $1', [victimId])).rows[0]?.phone;
  const openCases = async (kind: string) =>
    (
      await t.db.query<{ id: string; facility_code: string | null; subject_id: string; detail: Record<string, unknown> }>(
        "SELECT id, facility_code, subject_id, detail FROM cases WHERE person_id = $1 AND kind = $2 AND status = 'open' ORDER BY opened_at",
        [victimId, kind],
      )
    ).rows;
  /** What no answer to the attacker may contain: anything stored about the victim. */
  const assertRevealsNothing = (text: string) => {
    for (const secret of [victim.name, 'Rahmawati', victimPhone, '4455', victimId, firstDoseId]) assert.ok(!text.includes(secret), `the answer leaks ${secret}: ${text}`);
  };

  it('starts with a person vaccinated at their own facility, whose certificate SMS went to their number', async () => {
    rt = await testRuntime(t.db);
    worker = rt.deps.notify.worker({ pollMs: 10 });
    home = await facilityWithToken(t.db);
    attacker = await facilityWithToken(t.db, '317102');
    district = await tokenFor(t.db, 'district', { region: '3171' });
    support = await tokenFor(t.db, 'support');
    const res = await as(home.token, 'POST', '/api/v1/vaccinations', doseBody(victim));
    assert.equal(res.statusCode, 201, res.body);
    victimId = res.json().person.id;
    firstDoseId = res.json().vaccination.id;
    await worker.drain();
    assert.equal((await to(victimPhone)).length, 1);
  });

  it('a facility recording by NIK under another name and phone: recorded and held, nothing stored in the answer, the phone unchanged, cases open', async () => {
    const forged = { ...victim, name: 'Agus Hartono', phone: '0857-9988-7766' };
    const res = await as(attacker.token, 'POST', '/api/v1/vaccinations', doseBody(forged, { doseNumber: 2, date: '2021-07-08' }));
    assert.equal(res.statusCode, 201, res.body);
    const a = res.json();
    assertRevealsNothing(res.body);
    assert.equal(a.vaccination.held, 'identity_review');
    assert.equal(a.certificate, null, 'no certificate (it carries the name on record)');
    assert.equal(a.person.id, undefined);
    assert.equal(a.person.name, 'Agus Hartono', 'only what was sent');
    assert.equal(a.nextDose, null);
    assert.equal(a.phoneChange?.status, 'pending');
    assert.ok(a.warnings.some((w: { code: string }) => w.code === 'name_mismatch'));

    // Recorded against the record as it stands, held.
    const v = await t.db.query<{ person_id: string; identity_held: boolean; cert: string }>(
      'SELECT v.person_id, v.identity_held, c.status AS cert FROM vaccinations v JOIN certificates c ON c.vaccination_id = v.id WHERE v.id = $1',
      [a.vaccination.id],
    );
    assert.deepEqual(v.rows[0], { person_id: victimId, identity_held: true, cert: 'held' });
    assert.equal(await phoneOnRecord(), victimPhone, 'the phone on record is unchanged');
    const mismatch = await openCases('name_mismatch');
    assert.equal(mismatch.length, 1);
    assert.equal(mismatch[0]?.subject_id, a.vaccination.id);
    assert.equal(mismatch[0]?.facility_code, home.code, 'on the list of the facility that knows the person, not the sender’s');
    assert.equal(mismatch[0]?.detail.sentName, 'Agus Hartono');
    const change = await openCases('phone_change');
    assert.equal(change.length, 1);
    assert.equal(change[0]?.id, a.phoneChange.id);
    assert.equal(change[0]?.detail.newPhone, attackerPhone);

    // No SMS to anyone, and no reminder queued for a held dose.
    await worker.drain();
    assert.equal((await to(attackerPhone)).length, 0);
    assert.equal((await to(victimPhone)).length, 1);
    const jobs = await t.db.query<{ n: number }>("SELECT count(*)::int8 AS n FROM jobs WHERE person_id = $1 AND kind IN ('notify', 'reminder')", [victimId]);
    assert.equal(Number(jobs.rows[0]?.n), 1, 'only dose 1’s certificate SMS');

    // The held dose gives the sender no scope: the person stays out of its reach.
    assert.equal((await as(attacker.token, 'GET', `/api/v1/people/${victimId}/timeline`)).statusCode, 404);
    const search = await as(attacker.token, 'GET', `/api/v1/people?nik=${victim.nik}`);
    assert.equal(search.statusCode, 200, search.body);
    assert.deepEqual(search.json().people, []);
    const cases = await as(attacker.token, 'GET', '/api/v1/cases');
    assertRevealsNothing(cases.body);
    // Nor can it settle anything about the person or the number.
    assert.equal((await as(attacker.token, 'POST', `/api/v1/cases/${mismatch[0]?.id}/identity`, { action: 'confirm', note: 'it is her' })).statusCode, 404);
    assert.equal((await as(attacker.token, 'POST', `/api/v1/cases/${a.phoneChange.id}/phone-change/confirm`)).statusCode, 404);
    const code = await as(attacker.token, 'POST', `/api/v1/cases/${a.phoneChange.id}/phone-change/code`);
    assert.equal(code.statusCode, 409, code.body);
    assert.equal(code.json().error.code, 'identity_pending');
    await worker.drain();
    assert.equal((await to(attackerPhone)).length, 0, 'not even a code');
  });

  it('a 409 dose_already_recorded tells an outside caller no id', async () => {
    const res = await as(attacker.token, 'POST', '/api/v1/vaccinations', doseBody(victim));
    assert.equal(res.statusCode, 409, res.body);
    assert.equal(res.json().error.code, 'dose_already_recorded');
    assertRevealsNothing(res.body);
    // The facility that recorded it still gets the ids.
    const own = await as(home.token, 'POST', '/api/v1/vaccinations', doseBody(victim));
    assert.equal(own.statusCode, 409);
    assert.equal(own.json().error.detail.personId, victimId);
  });

  it('a conflict tells an outside caller nothing about the doses on record', async () => {
    const res = await as(attacker.token, 'POST', '/api/v1/vaccinations', doseBody(victim, { date: '2021-06-11' }));
    assert.equal(res.statusCode, 409, res.body);
    assertRevealsNothing(res.body);
    assert.ok(!res.body.includes('2021-06-10'), 'not the date of the dose on record');
  });

  it('the district sees the cases with the phone masked as search masks it, and confirms the name', async () => {
    const list = await as(district, 'GET', '/api/v1/cases?kind=phone_change');
    assert.equal(list.statusCode, 200, list.body);
    const c = list.json().cases.find((x: { personId: string }) => x.personId === victimId);
    assert.ok(c, list.body);
    assert.equal(c.detail.newPhone, '+62 857-****-7766');
    assert.ok(!list.body.includes(attackerPhone) && !list.body.includes(victimPhone), list.body);
    const timeline = await as(district, 'GET', `/api/v1/people/${victimId}/timeline`);
    assert.equal(timeline.statusCode, 200);
    assert.ok(!timeline.body.includes(attackerPhone) && !timeline.body.includes(victimPhone), 'the timeline masks case details too');

    const [mismatch] = await openCases('name_mismatch');
    const ok = await as(district, 'POST', `/api/v1/cases/${mismatch?.id}/identity`, { action: 'confirm', note: 'Agus is her husband; she was there, KTP seen' });
    assert.equal(ok.statusCode, 200, ok.body);
    const cert = await t.db.query<{ status: string }>('SELECT c.status FROM certificates c JOIN cases k ON k.subject_id = c.vaccination_id WHERE k.id = $1', [mismatch?.id]);
    assert.equal(cert.rows[0]?.status, 'valid');
    await worker.drain();
    const sent = await to(victimPhone);
    assert.equal(sent.length, 2, 'the released certificate SMS goes to the number on record');
    assert.equal((await to(attackerPhone)).length, 0);
    assert.equal(await phoneOnRecord(), victimPhone);
  });

  it('a facility that vaccinated the person confirms the phone change: the number changes and the old number gets one notice, no link, no name', async () => {
    const [change] = await openCases('phone_change');
    const ok = await as(home.token, 'POST', `/api/v1/cases/${change?.id}/phone-change/confirm`);
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(await phoneOnRecord(), attackerPhone);
    await worker.drain();
    const old = await to(victimPhone);
    assert.equal(old.length, 3);
    const notice = old[2]?.text ?? '';
    assert.match(notice, /diganti|another phone number/);
    assert.ok(!/https?:|\/c\//.test(notice) && !notice.includes('Siti') && !notice.includes('Agus'), notice);
    const audit = await t.db.query<{ action: string }>("SELECT action FROM audit_log WHERE person_id = $1 AND action IN ('phone_corrected', 'phone_change_confirmed', 'identity_confirmed')", [victimId]);
    assert.deepEqual(audit.rows.map((r) => r.action).sort(), ['identity_confirmed', 'phone_change_confirmed', 'phone_corrected']);
    // Once: confirming again is a 409, and no second notice.
    assert.equal((await as(home.token, 'POST', `/api/v1/cases/${change?.id}/phone-change/confirm`)).statusCode, 409);
    await worker.drain();
    assert.equal((await to(victimPhone)).length, 3);
  });

  it('a name that folds to the same key records as before (Muhamad / Mohammad, titles, spacing)', async () => {
    const p = person({ name: 'Muhammad Nur Aini' });
    assert.equal((await as(home.token, 'POST', '/api/v1/vaccinations', doseBody(p))).statusCode, 201);
    const res = await as(home.token, 'POST', '/api/v1/vaccinations', doseBody({ ...p, name: 'H. Mohammad  Nuraini', phone: p.phone }, { doseNumber: 2, date: '2021-07-08' }));
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.json().vaccination.held, undefined);
    assert.ok(res.json().certificate?.qr);
    assert.equal(res.json().person.name, 'Muhammad Nur Aini');
  });

  it('support finds a held dose to be someone else’s: it is voided, its certificate revoked, nothing sent', async () => {
    const p = person({ name: 'Dewi Lestari' });
    const first = await as(home.token, 'POST', '/api/v1/vaccinations', doseBody(p));
    const id = first.json().person.id as string;
    const res = await as(attacker.token, 'POST', '/api/v1/vaccinations', doseBody({ ...p, name: 'Rudi Hartono', phone: '0857-1212-3434' }, { doseNumber: 2, date: '2021-07-08' }));
    assert.equal(res.statusCode, 201, res.body);
    const k = await t.db.query<{ id: string }>("SELECT id FROM cases WHERE person_id = $1 AND kind = 'name_mismatch' AND status = 'open'", [id]);
    const no = await as(support, 'POST', `/api/v1/cases/${k.rows[0]?.id}/identity`, { action: 'wrong_person', note: 'not her; NIK typed wrong' });
    assert.equal(no.statusCode, 200, no.body);
    const v = await t.db.query<{ status: string; cert: string }>('SELECT v.status, c.status AS cert FROM vaccinations v JOIN certificates c ON c.vaccination_id = v.id WHERE v.id = $1', [res.json().vaccination.id]);
    assert.deepEqual(v.rows[0], { status: 'void', cert: 'revoked' });
    const open = await t.db.query<{ n: number }>("SELECT count(*)::int8 AS n FROM cases WHERE person_id = $1 AND status = 'open' AND kind IN ('name_mismatch', 'phone_change')", [id]);
    assert.equal(Number(open.rows[0]?.n), 0, 'its phone change is dismissed with it');
    await worker.drain();
    assert.equal((await to('+6285712123434')).length, 0);
  });

  it('an import row with a mismatched name follows the same rule', async () => {
    const p = person({ name: 'Bambang Sutrisno' });
    assert.equal((await as(home.token, 'POST', '/api/v1/vaccinations', doseBody(p))).statusCode, 201);
    const csv = toCsv({
      header: ['nik', 'name', 'birth_date', 'sex', 'phone', 'vaccine', 'dose', 'date', 'lot'],
      rows: [[p.nik, 'Yanto Wibisono', p.birthDate, p.sex, '0857-5656-7878', 'CORONAVAC', '2', '2021-07-08', 'B777']],
    });
    const up = await rt.app.inject({ method: 'POST', url: '/api/v1/imports', headers: { ...bearer(attacker.token), 'content-type': 'text/csv' }, payload: csv });
    assert.equal(up.statusCode, 202, up.body);
    await importRunnerOf(rt.app).settled(up.json().id);
    const s = (await as(attacker.token, 'GET', `/api/v1/imports/${up.json().id}`)).json();
    assert.equal(s.accepted, 1, JSON.stringify(s));
    const row = await t.db.query<{ phone: string; held: boolean; cert: string; cases: number }>(
      `SELECT p.phone, v.identity_held AS held, c.status AS cert,
              (SELECT count(*) FROM cases k WHERE k.person_id = p.id AND k.kind IN ('name_mismatch', 'phone_change') AND k.status = 'open')::int8 AS cases
         FROM people p JOIN vaccinations v ON v.person_id = p.id AND v.dose_number = 2 JOIN certificates c ON c.vaccination_id = v.id
        WHERE p.id_value = $1`,
      [p.nik],
    );
    assert.deepEqual({ ...row.rows[0], cases: Number(row.rows[0]?.cases) }, { phone: `+62${p.phone.slice(1)}`, held: true, cert: 'held', cases: 2 });
    const errors = await as(attacker.token, 'GET', `/api/v1/imports/${up.json().id}/errors.csv`);
    assert.ok(!errors.body.includes('Bambang'), errors.body);
  });
});
