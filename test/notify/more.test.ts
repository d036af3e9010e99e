/**
 * Lot-recall SMS (issue 8), placeholder / suspicious phones (issue 9 item 4)
 * and one-time codes by SMS, through the local sink on both backends.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_TOKEN, bearer, doseBody, facilityWithToken, person, testRuntime, tokenFor } from '../helpers/app.ts';
import { describeEachBackend } from '../helpers/db.ts';
import type { Runtime } from '../../src/runtime.ts';
import type { Worker } from '../../src/notify/outbox.ts';
import { notificationsOf } from '../../src/notify/queries.ts';
import { codeFor, enqueueCodeSms, loadOtpSecret } from '../../src/notify/codes.ts';
import { createFacility } from '../../src/records/facilities.ts';
import { createToken } from '../../src/access/tokens.ts';
import { AppError } from '../../src/domain/errors.ts';

describeEachBackend('recall SMS, suspicious phones, one-time codes', (t) => {
  let rt: Runtime;
  let worker: Worker;
  let fac: { code: string; token: string };
  let support: string;
  const admin = bearer(ADMIN_TOKEN);
  let seq = 0;
  /** A fresh phone number per test (national form), unlike any other test's. */
  const phone = () => `0813${String(process.pid % 10_000).padStart(4, '0')}${String(++seq).padStart(4, '0')}`;
  const e164 = (national: string) => `+62${national.slice(1)}`;

  const record = async (body: unknown, token = fac.token) => {
    const r = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(token), payload: body as object });
    assert.equal(r.statusCode, 201, r.body);
    return r.json<{ person: { id: string }; certificate: { id: string; qr: string; link: string } }>();
  };
  const sinkFor = async (to: string) =>
    (await t.db.query<{ body: string; person_id: string }>('SELECT body, person_id FROM sms_sink WHERE recipient = $1 ORDER BY id', [to])).rows;
  const verify = async (qr: string) => (await rt.app.inject({ method: 'POST', url: '/api/v1/verify', payload: { qr } })).json<{ valid: boolean; reason?: string }>();
  const openCases = async (personId: string) =>
    (
      await t.db.query<{ kind: string; facility_code: string | null; detail: Record<string, unknown> }>(
        "SELECT kind, facility_code, detail FROM cases WHERE person_id = $1 AND status = 'open' ORDER BY opened_at",
        [personId],
      )
    ).rows;

  it('starts', async () => {
    rt = await testRuntime(t.db);
    worker = rt.deps.notify.worker({ pollMs: 10 });
    fac = await facilityWithToken(t.db);
    support = await tokenFor(t.db, 'support');
  });

  // ---- issue 8: lot recall --------------------------------------------------------------------

  it('a lot recall sends each affected person exactly one SMS, and their certificates verify as revoked', async () => {
    const lot = `RC${process.pid}`;
    const twice = person({ name: 'Dewi Lestari', phone: phone() });
    const a1 = await record(doseBody(twice, { lot }));
    const a2 = await record(doseBody(twice, { lot, doseNumber: 2, date: '2021-07-08' }));
    const others = [person({ name: 'Agus Salim', phone: phone() }), person({ name: 'Sri Rahayu', phone: phone() }), person({ name: 'Joko Widodo', phone: phone() })];
    const doses = [a1, a2];
    for (const p of others) doses.push(await record(doseBody(p, { lot })));
    const noPhone: Record<string, unknown> = { ...person({ name: 'Tanpa Nomor' }) };
    delete noPhone.phone;
    const held = await record(doseBody(noPhone as ReturnType<typeof person>, { lot }));
    const bystander = person({ phone: phone() });
    await record(doseBody(bystander, { lot: 'NOT-RECALLED' }));
    await worker.drain(); // the certificate SMS
    const before = async (p: { phone: string }) => (await sinkFor(e164(p.phone))).length;
    const counts = new Map<string, number>();
    for (const p of [twice, ...others, bystander]) counts.set(p.phone, await before(p));

    const res = await rt.app.inject({ method: 'POST', url: `/api/v1/lots/${lot}/recall`, headers: admin, payload: { vaccine: 'CORONAVAC', reason: 'cold chain failure' } });
    assert.equal(res.statusCode, 201, res.body);
    assert.deepEqual([res.json().people, res.json().notices], [5, 5]);

    assert.ok((await worker.runOnce()) >= 5, 'one run of the worker takes the recall jobs');
    for (const p of [twice, ...others]) {
      const sms = (await sinkFor(e164(p.phone))).slice(counts.get(p.phone));
      assert.equal(sms.length, 1, `${p.name}: exactly one recall SMS`);
      const text = sms[0]!.body;
      assert.match(text, new RegExp(`^Vaksin CoronaVac batch ${lot} yang diterima .+ ditarik\\. Sertifikatnya dicabut\\. Hubungi faskes Anda\\.$`));
      assert.ok(text.length <= 160);
    }
    assert.match((await sinkFor(e164(twice.phone))).at(-1)!.body, /diterima Dewi L\. ditarik/);
    assert.equal((await sinkFor(e164(bystander.phone))).length, counts.get(bystander.phone), 'not affected: no SMS');
    for (const d of doses) assert.equal((await verify(d.certificate.qr)).reason, 'revoked');

    // Tracked like any SMS: delivered (sink), kind recall; no phone → held with an invalid_phone case.
    const [n] = (await notificationsOf(t.db, a1.person.id)).filter((x) => x.kind === 'recall');
    assert.equal(n?.status, 'delivered');
    const [h] = (await notificationsOf(t.db, held.person.id)).filter((x) => x.kind === 'recall');
    assert.deepEqual([h?.status, h?.holdReason], ['held', 'missing']);
    assert.ok((await openCases(held.person.id)).some((c) => c.kind === 'invalid_phone'));

    // The jobs are done; running them again (a killed worker) sends nothing more.
    await t.db.query("UPDATE jobs SET status = 'pending' WHERE kind = 'recall_notice' AND dedupe_key LIKE $1", [`recall:${lot}:%`]);
    await worker.drain();
    assert.equal((await sinkFor(e164(twice.phone))).length, counts.get(twice.phone)! + 1);
  });

  // ---- issue 9 item 4: placeholder and shared numbers -----------------------------------------

  it('seven unrelated people on one number: the seventh SMS is held and a suspicious_phone case opened', async () => {
    const shared = phone();
    const people = Array.from({ length: 7 }, (_, i) => person({ name: `Orang Ke ${i + 1}`, phone: shared }));
    const doses = [];
    for (const p of people) {
      doses.push(await record(doseBody(p)));
      await worker.drain(); // each SMS goes out as its dose is recorded
    }
    const sent = await sinkFor(e164(shared));
    assert.equal(sent.length, 6, 'the first six get theirs');
    assert.deepEqual(sent.map((s) => s.person_id), doses.slice(0, 6).map((d) => d.person.id));
    const seventh = doses[6]!;
    const [n] = await notificationsOf(t.db, seventh.person.id);
    assert.deepEqual([n?.status, n?.holdReason, n?.recipient], ['held', 'suspicious', e164(shared)]);
    const cases = await openCases(seventh.person.id);
    assert.equal(cases.length, 1);
    assert.equal(cases[0]?.kind, 'suspicious_phone');
    assert.equal(cases[0]?.facility_code, fac.code, 'for the facility that recorded the dose');
    assert.equal(cases[0]?.detail.count, 7);
    assert.deepEqual(cases[0]?.detail.reasons, ['shared']);
    assert.deepEqual(cases[0]?.detail.people, doses.map((d) => d.person.id));
    for (const d of doses.slice(0, 6)) assert.deepEqual(await openCases(d.person.id), []);

    // The facility sees it on its work list.
    const list = await rt.app.inject({ method: 'GET', url: '/api/v1/cases?kind=suspicious_phone', headers: bearer(fac.token) });
    assert.equal(list.statusCode, 200, list.body);
    assert.ok(list.json<{ cases: { personId: string }[] }>().cases.some((c) => c.personId === seventh.person.id));

    // Support corrects the phone: the case closes, the held SMS goes to the new number.
    const mine = phone();
    const fix = await rt.app.inject({ method: 'POST', url: `/api/v1/people/${seventh.person.id}/phone`, headers: bearer(support), payload: { phone: mine } });
    assert.equal(fix.statusCode, 200, fix.body);
    await worker.drain();
    assert.deepEqual((await sinkFor(e164(mine))).map((s) => s.person_id), [seventh.person.id]);
    assert.match((await sinkFor(e164(mine)))[0]!.body, new RegExp(seventh.certificate.link.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    assert.deepEqual(await openCases(seventh.person.id), []);
    const all = await notificationsOf(t.db, seventh.person.id);
    // The certificate SMS: held, then sent to the new number; and the shared number is told it was replaced (issue 15).
    assert.deepEqual(all.map((x) => `${x.kind} ${x.status}`).sort(), ['certificate cancelled', 'certificate delivered', 'phone_replaced delivered']);
  });

  it('a family of four on one number each get their own SMS and link', async () => {
    const shared = phone();
    const family = ['Budi Santoso', 'Siti Santoso', 'Rina Santoso', 'Adi Santoso'].map((name) => person({ name, phone: shared }));
    const doses = [];
    for (const p of family) doses.push(await record(doseBody(p)));
    await worker.drain();
    const sent = await sinkFor(e164(shared));
    assert.equal(sent.length, 4);
    for (const d of doses) {
      const mine = sent.filter((s) => s.person_id === d.person.id);
      assert.equal(mine.length, 1);
      assert.ok(mine[0]!.body.includes(d.certificate.link), 'their own link');
      assert.deepEqual(await openCases(d.person.id), []);
    }
    assert.equal(new Set(doses.map((d) => d.certificate.link)).size, 4);
  });

  it('a known placeholder or a facility\'s own number holds the SMS from the first person', async () => {
    const placeholder = await record(doseBody(person({ phone: '081100000000' })));
    const code = `PKM-PH-${process.pid}`;
    await createFacility(t.db, { code, name: 'Puskesmas Telepon', regionCode: '317101', phone: '0812-9999-1234' });
    const tok = (await createToken(t.db, { role: 'facility', facility: code, label: 'test' }, null)).token;
    const nurse = await record(doseBody(person({ phone: '081299991234' })), tok);
    await worker.drain();
    const [a] = await notificationsOf(t.db, placeholder.person.id);
    assert.deepEqual([a?.status, a?.holdReason], ['held', 'suspicious']);
    assert.deepEqual((await openCases(placeholder.person.id))[0]?.detail.reasons, ['placeholder']);
    const [b] = await notificationsOf(t.db, nurse.person.id);
    assert.deepEqual([b?.status, b?.holdReason], ['held', 'suspicious']);
    const c = (await openCases(nurse.person.id))[0];
    assert.deepEqual([c?.kind, c?.facility_code, c?.detail.reasons, c?.detail.facilityWithThisPhone], ['suspicious_phone', code, ['facility_phone'], code]);
    assert.equal((await sinkFor('+6281100000000')).length, 0);
    assert.equal((await sinkFor('+6281299991234')).length, 0);
  });

  it('DOSIS_PHONE_SHARE_LIMIT moves the bound', async () => {
    const strict = await testRuntime(t.db, { DOSIS_PHONE_SHARE_LIMIT: '2' });
    const w = strict.deps.notify.worker({ pollMs: 10 });
    const shared = phone();
    const doses = [];
    for (let i = 0; i < 3; i++) doses.push(await record(doseBody(person({ phone: shared }))));
    await w.drain();
    assert.equal((await sinkFor(e164(shared))).length, 2);
    assert.equal((await notificationsOf(t.db, doses[2]!.person.id))[0]?.holdReason, 'suspicious');
    await strict.app.close();
  });

  // ---- one-time codes ---------------------------------------------------------------------------

  it('sends a one-time code that is stored nowhere but the SMS, and checks it once', async () => {
    const p = person({ phone: phone() });
    const dose = await record(doseBody(p));
    await worker.drain();
    const q = await t.db.withTransaction((tx) => enqueueCodeSms(tx, { personId: dose.person.id, phone: p.phone, purpose: 'lookup' }));
    assert.equal(q.phone, e164(p.phone));
    const job = await t.db.query<{ payload: unknown }>("SELECT payload FROM jobs WHERE kind = 'code_sms' AND dedupe_key = $1", [`otp:${q.requestId}`]);
    assert.deepEqual(job.rows[0]?.payload, { requestId: q.requestId }, 'the job holds the request id only');
    await worker.drain();
    const sms = (await sinkFor(q.phone)).at(-1)!.body;
    const code = /Kode Dosis Anda: (\d{6})\. Berlaku 10 menit\./.exec(sms)?.[1];
    assert.ok(code, sms);
    const secret = await loadOtpSecret(t.db);
    assert.equal(code, codeFor(secret, q.requestId));

    // Nowhere in the database but the sink (the development stand-in for a phone).
    const n = (await notificationsOf(t.db, dose.person.id)).find((x) => x.kind === 'code');
    assert.equal(n?.status, 'delivered');
    for (const where of [
      "SELECT count(*)::int AS n FROM notifications WHERE body LIKE '%' || $1 || '%'",
      "SELECT count(*)::int AS n FROM notification_events WHERE raw LIKE '%' || $1 || '%'",
      "SELECT count(*)::int AS n FROM jobs WHERE payload::text LIKE '%' || $1 || '%'",
      "SELECT count(*)::int AS n FROM otp_requests WHERE row_to_json(otp_requests)::text LIKE '%' || $1 || '%'",
    ]) {
      assert.equal((await t.db.query<{ n: number }>(where, [code])).rows[0]?.n, 0, where);
    }
    assert.ok(n?.events.some((e) => e.raw?.includes('Kode Dosis Anda: ******.')));

    // A retry (the first attempt failed) derives the same code again: it is not in the stored body.
    await t.db.query("UPDATE notifications SET status = 'failed', final_at = NULL WHERE person_id = $1 AND id = $2", [dose.person.id, n.id]);
    await t.db.query(
      `INSERT INTO jobs (kind, payload, dedupe_key, person_id) VALUES ('sms_send', jsonb_build_object('personId', $1::uuid, 'notificationId', $2::uuid, 'attempt', 2), 'test:' || $2, $1)`,
      [dose.person.id, n.id],
    );
    await worker.drain();
    const again = (await sinkFor(q.phone)).map((s) => s.body).filter((b) => b.startsWith('Kode'));
    assert.equal(again.length, 2);
    assert.equal(again[1], sms, 'the retry sends the same code');

    const wrong = code === '000000' ? '000001' : '000000';
    assert.deepEqual(await rt.deps.notify.checkCode(q.requestId, wrong, 'lookup'), { ok: false, reason: 'wrong', remaining: 4 });
    assert.deepEqual(await rt.deps.notify.checkCode(q.requestId, code, 'phone_change'), { ok: false, reason: 'wrong_purpose' });
    assert.deepEqual(await rt.deps.notify.checkCode(q.requestId, code, 'lookup'), { ok: true, personId: dose.person.id, phone: q.phone, purpose: 'lookup' });
    assert.deepEqual(await rt.deps.notify.checkCode(q.requestId, code, 'lookup'), { ok: false, reason: 'used' }, 'a code works once');
  });

  it('a code for a number without a person; five wrong tries spend it; an expired one is not sent', async () => {
    const num = phone();
    const q = await t.db.withTransaction((tx) => enqueueCodeSms(tx, { personId: null, phone: num, purpose: 'phone_change' }));
    await worker.drain();
    assert.equal((await sinkFor(e164(num))).length, 1);
    for (let i = 0; i < 4; i++) assert.equal((await rt.deps.notify.checkCode(q.requestId, 'abcdef')).ok, false);
    assert.deepEqual(await rt.deps.notify.checkCode(q.requestId, 'abcdef'), { ok: false, reason: 'too_many' });
    const secret = await loadOtpSecret(t.db);
    assert.deepEqual(await rt.deps.notify.checkCode(q.requestId, codeFor(secret, q.requestId)), { ok: false, reason: 'too_many' });

    const late = await t.db.withTransaction((tx) => enqueueCodeSms(tx, { personId: null, phone: num, purpose: 'lookup' }));
    await t.db.query("UPDATE otp_requests SET expires_at = now() - interval '1 minute' WHERE id = $1", [late.requestId]);
    await worker.drain();
    assert.equal((await sinkFor(e164(num))).length, 1, 'expired before the worker came: not sent');
    const [n] = await notificationsOf(t.db, late.requestId);
    assert.deepEqual([n?.status, n?.holdReason], ['cancelled', 'code_expired']);
    assert.deepEqual(await rt.deps.notify.checkCode(late.requestId, codeFor(secret, late.requestId)), { ok: false, reason: 'expired' });
  });

  it('refuses a code to a number that cannot receive SMS', async () => {
    await assert.rejects(
      t.db.withTransaction((tx) => enqueueCodeSms(tx, { personId: null, phone: '021-555-1234', purpose: 'lookup' })),
      (e: unknown) => e instanceof AppError,
    );
  });

  // ---- metrics ----------------------------------------------------------------------------------

  it('exposes SMS gauges on /metrics', async () => {
    const res = await rt.app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 200);
    assert.match(res.body, /dosis_notifications\{kind="certificate",status="delivered"\} \d+/);
    assert.match(res.body, /dosis_cases_open\{kind="suspicious_phone"\} \d+/);
  });

  it('stops', async () => {
    await rt.app.close();
  });
});
