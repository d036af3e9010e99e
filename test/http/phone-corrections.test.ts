/**
 * Wrong or lost phone, on both backends: a code to the NEW number, the
 * request filed for support, approve (the phone changes, the certificate SMS
 * goes to the new number) or decline (an SMS that names no one). The public
 * answers are the same for a NIK that matches no one, and nothing about a
 * person ever reaches a number support did not approve.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { describeEachBackend } from '../helpers/db.ts';
import { bearer, doseBody, facilityWithToken, person, skipFloorWaits, testRuntime, tokenFor, ADMIN_TOKEN } from '../helpers/app.ts';
import type { Runtime } from '../../src/runtime.ts';
import type { Worker } from '../../src/notify/outbox.ts';
import { nameScore } from '../../src/access/phone-corrections.ts';
import { makeNik } from '../../src/domain/nik.ts';
import { correctionDeclinedSms } from '../../src/notify/templates.ts';

describe('phone corrections: name score and decline SMS', () => {
  it('scores the entered name against the record with the Indonesian spelling folds', () => {
    assert.equal(nameScore('Budi Santoso', 'BUDI  SANTOSO'), 1);
    assert.equal(nameScore('Mochammad Djoko Soesilo', 'Muhamad Joko Susilo'), 0.9);
    assert.equal(nameScore('Nur Aini', 'Nuraini'), 0.9);
    assert.equal(nameScore('Budi Santoso', 'Budi Santoso Wijaya'), 0.53, 'two of three words');
    assert.equal(nameScore('Budi', 'Siti Rahma'), 0);
  });

  it('declines in one GSM-7 part per reason and language, naming no one and linking nothing', () => {
    for (const lang of ['id', 'en'] as const)
      for (const reason of ['identity_mismatch', 'duplicate_request', 'other'] as const) {
        const s = correctionDeclinedSms({ lang, reason });
        assert.equal(s.parts, 1, s.text);
        assert.equal(s.encoding, 'gsm7');
        assert.equal(s.template, `phone_correction_declined.${lang}`);
        assert.ok(!/https?:|\/c\//.test(s.text), s.text);
        assert.match(s.text, lang === 'id' ? /ditolak/ : /declined/);
      }
  });
});

interface Sms {
  to: string;
  text: string;
}

describeEachBackend('wrong or lost phone: correction requests', (t) => {
  let rt: Runtime;
  let worker: Worker;
  let support: string;
  let facility: { code: string; token: string };
  const who = person({ name: 'Djoko Soesilo Wibowo', phone: '0812-1111-2222' });
  let personId: string;
  /** New numbers support approved: the only ones that may receive a link or a name. */
  const approved = new Set<string>();
  /** Numbers that were on a person's record when a certificate SMS went there. */
  const wereOnRecord = new Set<string>(['+6281211112222', '+6281240005000', '+6281241005000']);

  const start = (body: object, ip: string) => rt.app.inject({ method: 'POST', url: '/api/v1/public/phone-corrections', payload: body, remoteAddress: ip });
  const verify = (id: string, code: string) => rt.app.inject({ method: 'POST', url: `/api/v1/public/phone-corrections/${id}/verify`, payload: { code } });
  const sink = async (): Promise<Sms[]> => (await rt.app.inject({ url: '/api/v1/sms/sink', headers: bearer(ADMIN_TOKEN) })).json().messages;
  const to = async (e164: string) => (await sink()).filter((m) => m.to === e164);
  const codeSentTo = async (e164: string): Promise<string> => {
    await worker.drain();
    const last = (await to(e164)).pop();
    const code = /\b(\d{6})\b/.exec(last?.text ?? '')?.[1];
    assert.ok(code, `a code sent to ${e164}: ${last?.text}`);
    return code;
  };
  const as = (token: string, method: 'GET' | 'POST', url: string, payload?: object) =>
    rt.app.inject({ method, url, headers: bearer(token), ...(payload ? { payload } : {}) });
  const counts = async () =>
    (
      await t.db.query<{ pc: number; otp: number; jobs: number }>(
        'SELECT (SELECT count(*) FROM phone_corrections)::int8 AS pc, (SELECT count(*) FROM otp_requests)::int8 AS otp, (SELECT count(*) FROM jobs)::int8 AS jobs',
      )
    ).rows[0];

  it('starts with a person whose certificate SMS went to the number on record', async () => {
    rt = await testRuntime(t.db);
    skipFloorWaits(rt);
    worker = rt.deps.notify.worker({ pollMs: 10 });
    facility = await facilityWithToken(t.db);
    support = await tokenFor(t.db, 'support');
    const res = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(facility.token), payload: doseBody(who) });
    assert.equal(res.statusCode, 201, res.body);
    personId = res.json().person.id;
    await worker.drain();
    assert.equal((await to('+6281211112222')).length, 1, 'the certificate SMS went to the old number');
  });

  it('files a request with a code sent to the new number; support approves; the phone changes and the certificate SMS reaches the new number', async () => {
    const newPhone = '+6281377771234';
    const res = await start({ nik: who.nik, birthDate: who.birthDate, name: 'Joko Susilo Wibowo', newPhone: '0813-7777-1234', note: 'HP lama hilang' }, '10.1.0.1');
    assert.equal(res.statusCode, 202, res.body);
    assert.deepEqual(Object.keys(res.json()).sort(), ['phoneHint', 'requestId']);
    assert.equal(res.json().phoneHint, '+62 813-****-1234');
    const id = res.json().requestId as string;
    const code = await codeSentTo(newPhone);

    // Not filed before the code is entered.
    assert.equal((await as(support, 'GET', `/api/v1/phone-corrections/${id}`)).statusCode, 404);
    const wrong = await verify(id, code === '000000' ? '111111' : '000000');
    assert.equal(wrong.statusCode, 400, wrong.body);
    assert.equal(wrong.json().error.code, 'code_invalid');
    assert.equal(wrong.json().error.detail.attemptsLeft, 4);
    assert.equal(wrong.json().error.fields[0].path, 'code');
    const ok = await verify(id, code);
    assert.equal(ok.statusCode, 200, ok.body);
    assert.deepEqual(ok.json(), { status: 'submitted' });
    assert.equal((await verify(id, code)).statusCode, 409, 'submitted once');

    const list = await as(support, 'GET', '/api/v1/phone-corrections?status=open');
    assert.equal(list.statusCode, 200, list.body);
    const item = list.json().items.find((x: { id: string }) => x.id === id);
    assert.ok(item, 'on the support work list');
    assert.equal(item.status, 'open');
    assert.deepEqual(item.entered, {
      nik: who.nik,
      identifier: { type: 'nik', value: who.nik },
      birthDate: who.birthDate,
      name: 'Joko Susilo Wibowo',
      newPhone,
      note: 'HP lama hilang',
    });
    assert.equal(item.match.personId, personId);
    assert.equal(item.match.nameScore, 0.9, 'the same name in the old spelling');
    assert.equal(item.match.currentPhoneHint, '+62 812-****-2222');
    assert.ok(item.submittedAt);
    assert.equal(item.decidedAt, null);

    // Before approval: only the code went to the new number, and the record still has the old one.
    assert.equal((await to(newPhone)).length, 1);
    const before = await t.db.query<{ phone: string }>('SELECT phone FROM people WHERE id = $1', [personId]);
    assert.equal(before.rows[0]!.phone, '+6281211112222');

    const yes = await as(support, 'POST', `/api/v1/phone-corrections/${id}/approve`);
    assert.equal(yes.statusCode, 200, yes.body);
    approved.add(newPhone);
    assert.equal(yes.json().status, 'approved');
    assert.ok(yes.json().decidedAt);
    assert.ok(yes.json().decidedBy);
    assert.equal(yes.json().match.currentPhoneHint, '+62 813-****-1234');
    const after = await t.db.query<{ phone: string }>('SELECT phone FROM people WHERE id = $1', [personId]);
    assert.equal(after.rows[0]!.phone, newPhone);

    await worker.drain();
    const sent = await to(newPhone);
    assert.equal(sent.length, 2, sent.map((m) => m.text).join('\n'));
    const link = /https:\/\/dosis\.test\/c\/([A-Za-z0-9_-]+)/.exec(sent[1]!.text)?.[1];
    assert.ok(link, `the certificate link in ${sent[1]!.text}`);
    const page = await rt.app.inject({ url: `/api/v1/public/links/${link}` });
    assert.equal(page.statusCode, 200, page.body);
    assert.equal(page.json().person.name, who.name);

    // The change is on the person's record: audited as a phone correction, with the request.
    const audit = await t.db.query<{ action: string }>('SELECT action FROM audit_log WHERE person_id = $1 ORDER BY id', [personId]);
    const actions = audit.rows.map((r) => r.action);
    assert.ok(actions.includes('phone_corrected'), actions.join());
    assert.ok(actions.includes('phone_correction_approved'), actions.join());

    // Deciding again changes nothing.
    for (const again of [await as(support, 'POST', `/api/v1/phone-corrections/${id}/approve`), await as(ADMIN_TOKEN, 'POST', `/api/v1/phone-corrections/${id}/decline`, { reason: 'duplicate_request' })]) {
      assert.equal(again.statusCode, 409, again.body);
      assert.equal(again.json().error.code, 'already_decided');
    }
    await worker.drain();
    assert.equal((await to(newPhone)).length, 2, 'no second SMS');
    const still = await as(support, 'GET', `/api/v1/phone-corrections/${id}`);
    assert.equal(still.json().status, 'approved');
    assert.equal(still.json().reason, null);
    assert.ok((await as(support, 'GET', '/api/v1/phone-corrections?status=approved')).json().items.some((x: { id: string }) => x.id === id));
    const reads = await t.db.query<{ action: string }>("SELECT action FROM audit_log WHERE action IN ('phone_corrections_listed', 'phone_correction_viewed') AND (subject = $1 OR detail->'ids' ? $1)", [id]);
    assert.ok(reads.rows.some((r) => r.action === 'phone_correction_viewed') && reads.rows.some((r) => r.action === 'phone_corrections_listed'), 'support’s reads are audited');
  });

  it('answers a NIK that matches no one exactly alike, and support declines it with an SMS that names no one', async () => {
    const stranger = person();
    const a = await start({ nik: stranger.nik, birthDate: stranger.birthDate, name: 'Siti Aminah', newPhone: '0857-1000-2000' }, '10.2.0.1');
    const b = await start({ nik: who.nik, birthDate: '1901-01-01', name: who.name, newPhone: '0857-1000-3000' }, '10.2.0.2');
    for (const [r, hint] of [
      [a, '+62 857-****-2000'],
      [b, '+62 857-****-3000'],
    ] as const) {
      assert.equal(r.statusCode, 202, r.body);
      assert.deepEqual(Object.keys(r.json()).sort(), ['phoneHint', 'requestId']);
      assert.equal(r.json().phoneHint, hint);
      assert.match(r.json().requestId, /^[0-9a-f-]{36}$/);
    }
    for (const [r, phone] of [
      [a, '+6285710002000'],
      [b, '+6285710003000'],
    ] as const) {
      const ok = await verify(r.json().requestId, await codeSentTo(phone));
      assert.equal(ok.statusCode, 200, ok.body);
      assert.deepEqual(ok.json(), { status: 'submitted' });
    }
    const item = (await as(support, 'GET', `/api/v1/phone-corrections/${a.json().requestId}`)).json();
    assert.deepEqual(item.match, { personId: null, nameScore: null, currentPhoneHint: null });

    const cannot = await as(support, 'POST', `/api/v1/phone-corrections/${a.json().requestId}/approve`);
    assert.equal(cannot.statusCode, 409, cannot.body);
    assert.equal(cannot.json().error.code, 'no_matching_person');

    const no = await as(support, 'POST', `/api/v1/phone-corrections/${a.json().requestId}/decline`, { reason: 'identity_mismatch' });
    assert.equal(no.statusCode, 200, no.body);
    assert.equal(no.json().status, 'declined');
    assert.equal(no.json().reason, 'identity_mismatch');
    const other = await as(support, 'POST', `/api/v1/phone-corrections/${b.json().requestId}/decline`, { reason: 'other', text: 'birth date does not match the KTP' });
    assert.equal(other.statusCode, 200, other.body);
    assert.equal(other.json().reasonText, 'birth date does not match the KTP');
    assert.equal((await as(support, 'POST', `/api/v1/phone-corrections/${b.json().requestId}/decline`, { reason: 'other', text: 'again' })).statusCode, 409);

    await worker.drain();
    const declined = (await to('+6285710002000')).pop()!;
    assert.match(declined.text, /ditolak/);
    assert.match(declined.text, /NIK, tgl lahir & nama sesuai KTP/);
    const declinedOther = (await to('+6285710003000')).pop()!;
    assert.match(declinedOther.text, /ditolak/);
    assert.ok(!declinedOther.text.includes('does not match'), 'support’s own text stays internal');
    const phone = await t.db.query<{ phone: string }>('SELECT phone FROM people WHERE id = $1', [personId]);
    assert.equal(phone.rows[0]!.phone, '+6281377771234', 'a declined request changes no one’s number');
    const list = (await as(support, 'GET', '/api/v1/phone-corrections?status=declined')).json().items as { id: string }[];
    assert.deepEqual(list.map((x) => x.id).sort(), [a.json().requestId, b.json().requestId].sort());
  });

  it('counts wrong codes, spends the request after five, and refuses an expired code with 410', async () => {
    const p = person();
    const r = await start({ nik: p.nik, birthDate: p.birthDate, name: 'Rina', newPhone: '0878-2000-1000' }, '10.3.0.1');
    assert.equal(r.statusCode, 202, r.body);
    const code = await codeSentTo('+6287820001000');
    const bad = code === '000000' ? '111111' : '000000';
    for (const left of [4, 3, 2, 1]) {
      const w = await verify(r.json().requestId, bad);
      assert.equal(w.statusCode, 400, w.body);
      assert.equal(w.json().error.detail.attemptsLeft, left);
    }
    assert.equal((await verify(r.json().requestId, bad)).statusCode, 410, 'the fifth wrong code spends it');
    assert.equal((await verify(r.json().requestId, code)).statusCode, 410, 'then even the right code is refused');

    const r2 = await start({ nik: p.nik, birthDate: p.birthDate, name: 'Rina', newPhone: '0878-2000-1001' }, '10.3.0.2');
    const code2 = await codeSentTo('+6287820001001');
    await t.db.query("UPDATE otp_requests SET expires_at = now() - interval '1 minute' WHERE id = $1", [r2.json().requestId]);
    const late = await verify(r2.json().requestId, code2);
    assert.equal(late.statusCode, 410, late.body);
    assert.equal(late.json().error.code, 'code_expired');
    assert.equal((await verify('00000000-0000-4000-8000-000000000000', code2)).statusCode, 404);
    assert.equal((await verify(r2.json().requestId, '12')).statusCode, 400, 'a code of the wrong shape');

    const open = (await as(support, 'GET', '/api/v1/phone-corrections')).json().items as { entered: { nik: string } }[];
    assert.ok(!open.some((x) => x.entered.nik === p.nik), 'unverified requests are not on the work list');
  });

  it('limits requests per NIK, per new number and per client address, alike for a NIK that matches no one', async () => {
    const nobody = person();
    for (const nik of [who.nik, nobody.nik]) {
      // who's NIK has been used once from the journey and once with a wrong birth date already.
      const used = nik === who.nik ? 2 : 0;
      for (let i = used; i < 3; i++) {
        const r = await start({ nik, birthDate: nobody.birthDate, name: 'X Y', newPhone: `0819${nik.slice(-4)}${String(1000 + i)}` }, `10.4.${i}.${used}`);
        assert.equal(r.statusCode, 202, r.body);
      }
      const limited = await start({ nik, birthDate: nobody.birthDate, name: 'X Y', newPhone: `0819${nik.slice(-4)}9999` }, '10.4.9.9');
      assert.equal(limited.statusCode, 429, limited.body);
    }
    for (let i = 0; i < 3; i++) assert.equal((await start({ ...personBody(), newPhone: '0896-5000-5000' }, `10.5.${i}.1`)).statusCode, 202);
    assert.equal((await start({ ...personBody(), newPhone: '0896-5000-5000' }, '10.5.9.1')).statusCode, 429, 'per new number');
    for (let i = 0; i < 10; i++) assert.equal((await start({ ...personBody(), newPhone: `0895${String(60000000 + i)}` }, '10.6.0.1')).statusCode, 202);
    assert.equal((await start({ ...personBody(), newPhone: '0895-7000-0000' }, '10.6.0.1')).statusCode, 429, 'per client address');
  });

  it('refuses bad input with 4xx naming the field, and writes nothing', async () => {
    const before = await counts();
    const p = person();
    const base = { nik: p.nik, birthDate: p.birthDate, name: 'Budi', newPhone: '0812-3456-7890' };
    const cases: [object, string, number][] = [
      [{ ...base, nik: '12345' }, 'nik', 400],
      [{ ...base, newPhone: 'abc' }, 'newPhone', 400],
      [{ ...base, newPhone: '021-555-1234' }, 'newPhone', 400],
      [{ ...base, birthDate: '1990-02-30' }, 'birthDate', 400],
      [{ ...base, name: ' ' }, 'name', 400],
      [{ ...base, note: 'x'.repeat(600) }, 'note', 400],
      [{ nik: p.nik, birthDate: p.birthDate, newPhone: '0812-3456-7890' }, 'name', 422],
      [{ ...base, extra: 1 }, 'extra', 422],
    ];
    for (const [body, field, status] of cases) {
      const r = await start(body, '10.7.0.1');
      assert.equal(r.statusCode, status, `${field}: ${r.body}`);
      assert.ok(
        r.json().error.fields.some((f: { path: string }) => f.path === field),
        `${field} named in ${r.body}`,
      );
    }
    const filed = (await as(support, 'GET', '/api/v1/phone-corrections?status=declined')).json().items[0].id as string;
    const decisions: [object, string][] = [
      [{ reason: 'because' }, 'reason'],
      [{ reason: 'other' }, 'text'],
      [{ reason: 'other', text: ' ' }, 'text'],
    ];
    for (const [body, field] of decisions) {
      const r = await as(support, 'POST', `/api/v1/phone-corrections/${filed}/decline`, body);
      assert.equal(r.statusCode, 400, r.body);
      assert.equal(r.json().error.fields[0].path, field);
    }
    assert.equal((await as(support, 'GET', '/api/v1/phone-corrections?status=bogus')).statusCode, 400);
    assert.equal((await as(support, 'GET', '/api/v1/phone-corrections/not-a-uuid')).statusCode, 404);
    assert.equal((await as(support, 'POST', '/api/v1/phone-corrections/00000000-0000-4000-8000-000000000000/approve')).statusCode, 404);
    assert.deepEqual(await counts(), before, 'nothing written');
  });

  it('approves a request whose person was recorded after it was filed (matched again by NIK + birth date)', async () => {
    const p = person({ phone: '0812-4100-5000' });
    const r = await start({ nik: p.nik, birthDate: p.birthDate, name: p.name, newPhone: '0812-4100-6000' }, '10.9.0.1');
    assert.equal((await verify(r.json().requestId, await codeSentTo('+6281241006000'))).statusCode, 200);
    const id = r.json().requestId as string;
    assert.equal((await as(support, 'GET', `/api/v1/phone-corrections/${id}`)).json().match.personId, null);
    const rec = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(facility.token), payload: doseBody(p) });
    assert.equal(rec.statusCode, 201, rec.body);
    await worker.drain();
    const yes = await as(support, 'POST', `/api/v1/phone-corrections/${id}/approve`);
    assert.equal(yes.statusCode, 200, yes.body);
    approved.add('+6281241006000');
    assert.equal(yes.json().match.personId, rec.json().person.id);
    await worker.drain();
    assert.match((await to('+6281241006000')).pop()!.text, /\/c\//, 'the certificate SMS at the new number');
  });

  it('two decisions at once: exactly one wins, the other is a 409, and the phone changes once', async () => {
    const p = person({ phone: '0812-4000-5000' });
    const rec = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(facility.token), payload: doseBody(p) });
    assert.equal(rec.statusCode, 201, rec.body);
    const r = await start({ nik: p.nik, birthDate: p.birthDate, name: p.name, newPhone: '0812-4000-6000' }, '10.8.0.1');
    assert.equal((await verify(r.json().requestId, await codeSentTo('+6281240006000'))).statusCode, 200);
    const id = r.json().requestId as string;
    const [x, y] = await Promise.all([
      as(support, 'POST', `/api/v1/phone-corrections/${id}/approve`),
      as(ADMIN_TOKEN, 'POST', `/api/v1/phone-corrections/${id}/decline`, { reason: 'duplicate_request' }),
    ]);
    assert.deepEqual([x.statusCode, y.statusCode].sort(), [200, 409], `${x.body} ${y.body}`);
    const won = x.statusCode === 200 ? 'approved' : 'declined';
    if (won === 'approved') approved.add('+6281240006000');
    const now = (await as(support, 'GET', `/api/v1/phone-corrections/${id}`)).json();
    assert.equal(now.status, won);
    const changes = await t.db.query<{ n: number }>("SELECT count(*)::int8 AS n FROM audit_log WHERE action = 'phone_corrected' AND person_id = $1", [rec.json().person.id]);
    assert.equal(Number(changes.rows[0]!.n), won === 'approved' ? 1 : 0);
    await worker.drain();
  });

  it('serves a child without a NIK: the mother’s NIK with the child’s name; support approves and the child’s phone changes', async () => {
    const mother = makeNik({ province: '31', regency: '71', district: '01', birthDate: '1992-02-02', sex: 'F', serial: 55 });
    const child = { identifier: { type: 'mother-nik', value: mother }, name: 'Rahma Putri', birthDate: '2017-04-05', sex: 'F', phone: '0812-4200-5000' };
    const rec = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(facility.token), payload: doseBody(child as never) });
    assert.equal(rec.statusCode, 201, rec.body);
    wereOnRecord.add('+6281242005000');
    await worker.drain();
    const newPhone = '+6281342005000';
    // Only the child's own name finds her: the mother's NIK alone names every child of hers.
    const noName = await start({ identifier: { type: 'mother-nik', value: mother }, birthDate: child.birthDate, name: '', newPhone }, '10.9.0.1');
    assert.equal(noName.statusCode, 400);
    assert.deepEqual(noName.json().error.fields.map((f: { path: string }) => f.path), ['name'], 'named once');
    const res = await start({ identifier: { type: 'mother-nik', value: mother }, birthDate: child.birthDate, name: 'Rahma Putri', newPhone }, '10.9.0.1');
    assert.equal(res.statusCode, 202, res.body);
    const id = res.json().requestId as string;
    assert.equal((await verify(id, await codeSentTo(newPhone))).statusCode, 200);
    const item = (await as(support, 'GET', `/api/v1/phone-corrections/${id}`)).json();
    assert.deepEqual(item.entered.identifier, { type: 'mother-nik', value: mother });
    assert.equal(item.entered.nik, null);
    assert.equal(item.match.personId, rec.json().person.id);
    assert.equal(item.match.nameScore, 1);
    const yes = await as(support, 'POST', `/api/v1/phone-corrections/${id}/approve`);
    assert.equal(yes.statusCode, 200, yes.body);
    approved.add(newPhone);
    const after = await t.db.query<{ phone: string }>('SELECT phone FROM people WHERE id = $1', [rec.json().person.id]);
    assert.equal(after.rows[0]!.phone, newPhone);
    // A passport with an unknown country is named at its field.
    const bad = await start({ identifier: { type: 'passport', value: 'X1234567', country: 'ZZ' }, birthDate: '1980-01-01', name: 'Tan Wei', newPhone: '0813-4200-6000' }, '10.9.0.2');
    assert.equal(bad.statusCode, 400);
    assert.deepEqual(bad.json().error.fields.map((f: { path: string }) => f.path), ['identifier.country']);
  });

  it('never sent a link, a name or a NIK to a number support did not approve', async () => {
    await worker.drain();
    const rows = await t.db.query<{ recipient: string; kind: string }>('SELECT recipient, kind FROM notifications WHERE recipient IS NOT NULL');
    const people = await t.db.query<{ name: string; phone: string }>('SELECT name, phone FROM people');
    const onRecord = new Set(people.rows.map((p) => p.phone));
    for (const r of rows.rows) {
      if (onRecord.has(r.recipient) || approved.has(r.recipient) || wereOnRecord.has(r.recipient)) continue;
      assert.ok(['code', 'correction'].includes(r.kind), `${r.kind} SMS to unapproved ${r.recipient}`);
    }
    for (const m of await sink()) {
      if (wereOnRecord.has(m.to) || approved.has(m.to)) continue;
      assert.ok(!m.text.includes('/c/'), `a link to ${m.to}: ${m.text}`);
      for (const p of people.rows) assert.ok(!m.text.includes(p.name.split(' ')[0]!), `a name to ${m.to}: ${m.text}`);
      assert.ok(!/\d{16}/.test(m.text), `a NIK to ${m.to}: ${m.text}`);
    }
    await worker.stop();
    await rt.app.close();
  });
});

let seq = 0;
/** A fresh NIK and birth date (each its own per-NIK budget). */
function personBody() {
  const p = person();
  return { nik: p.nik, birthDate: p.birthDate, name: `Orang ${++seq}` };
}
