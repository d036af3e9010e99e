/**
 * The citizen lookup: NIK + birth date → a code to the phone on record →
 * the person's certificates. Knowing everything about someone but their
 * phone gives nothing, not even whether they exist.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { describeEachBackend } from '../helpers/db.ts';
import { bearer, doseBody, facilityWithToken, person, skipFloorWaits, testRuntime, ADMIN_TOKEN } from '../helpers/app.ts';
import type { Runtime } from '../../src/runtime.ts';
import { makeNik } from '../../src/domain/nik.ts';
import type { Worker } from '../../src/notify/outbox.ts';

describeEachBackend('citizen lookup with a one-time code', (t) => {
  let rt: Runtime;
  let worker: Worker;
  let fac: { code: string; token: string };
  const who = person({ phone: '0812-5555-7890' });
  const lookup = (body: object, ip = '10.0.0.1') => rt.app.inject({ method: 'POST', url: '/api/v1/public/lookup', payload: body, remoteAddress: ip });

  it('starts and records a person', async () => {
    rt = await testRuntime(t.db);
    skipFloorWaits(rt);
    worker = rt.deps.notify.worker({ pollMs: 10 });
    fac = await facilityWithToken(t.db);
    const res = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(fac.token), payload: doseBody(who) });
    assert.equal(res.statusCode, 201, res.body);
    await worker.drain();
  });

  it('sends a code to the phone on record and opens only that person’s certificates', async () => {
    const res = await lookup({ nik: who.nik, birthDate: who.birthDate });
    assert.equal(res.statusCode, 202, res.body);
    assert.equal(res.json().phoneHint, '****-****-*890');
    await worker.drain();
    const sink = (await rt.app.inject({ method: 'GET', url: '/api/v1/sms/sink', headers: bearer(ADMIN_TOKEN) })).json().messages;
    const sms = sink.filter((m: { to: string; text: string }) => m.to === '+6281255557890').pop();
    const code = /\b(\d{6})\b/.exec(sms.text)?.[1];
    assert.ok(code, `a code in ${sms.text}`);
    const wrong = await rt.app.inject({ method: 'POST', url: `/api/v1/public/lookup/${res.json().requestId}/verify`, payload: { code: code === '000000' ? '111111' : '000000' } });
    assert.equal(wrong.statusCode, 422);
    const ok = await rt.app.inject({ method: 'POST', url: `/api/v1/public/lookup/${res.json().requestId}/verify`, payload: { code } });
    assert.equal(ok.statusCode, 200, ok.body);
    const certs = await rt.app.inject({ method: 'GET', url: '/api/v1/public/certificates', headers: bearer(ok.json().accessToken) });
    assert.equal(certs.statusCode, 200, certs.body);
    assert.equal(certs.json().person.name, who.name);
    assert.equal(certs.json().certificates.length, 1);
    assert.ok(!certs.body.includes(who.nik), 'the NIK is masked');
    const again = await rt.app.inject({ method: 'POST', url: `/api/v1/public/lookup/${res.json().requestId}/verify`, payload: { code } });
    assert.equal(again.statusCode, 422, 'a code works once');
  });

  it('serves someone without a NIK: a passport holder, and a child by the mother’s NIK with the child’s name', async () => {
    const opened = async (body: object, phone: string, ip: string) => {
      const res = await lookup(body, ip);
      assert.equal(res.statusCode, 202, res.body);
      assert.equal(res.json().phoneHint, `****-****-*${phone.slice(-3)}`, 'the real number\'s last three digits');
      await worker.drain();
      const sink = (await rt.app.inject({ method: 'GET', url: '/api/v1/sms/sink', headers: bearer(ADMIN_TOKEN) })).json().messages;
      const code = /\b(\d{6})\b/.exec(sink.filter((m: { to: string }) => m.to === phone).pop().text)?.[1];
      const ok = await rt.app.inject({ method: 'POST', url: `/api/v1/public/lookup/${res.json().requestId}/verify`, payload: { code } });
      assert.equal(ok.statusCode, 200, ok.body);
      return (await rt.app.inject({ method: 'GET', url: '/api/v1/public/certificates', headers: bearer(ok.json().accessToken) })).json();
    };
    const traveller = { identifier: { type: 'passport', value: 'X1234567', country: 'SG' }, name: 'Tan Wei Ming', birthDate: '1984-02-03', sex: 'M', phone: '0812-6666-1111' };
    const mother = makeNik({ province: '31', regency: '71', district: '01', birthDate: '1990-05-06', sex: 'F', serial: 77 });
    const child = { identifier: { type: 'mother-nik', value: mother }, name: 'Putri Ayu', birthDate: '2019-08-09', sex: 'F', phone: '0812-6666-2222' };
    for (const p of [traveller, child]) {
      const res = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(fac.token), payload: doseBody(p as never) });
      assert.equal(res.statusCode, 201, res.body);
    }
    await worker.drain();
    const a = await opened({ identifier: { type: 'passport', value: 'x1234567', country: 'SGP' }, birthDate: '1984-02-03' }, '+6281266661111', '10.1.0.1');
    assert.equal(a.person.name, 'Tan Wei Ming');
    const b = await opened({ identifier: { type: 'mother-nik', value: mother }, name: 'putri  ayu', birthDate: '2019-08-09' }, '+6281266662222', '10.1.0.2');
    assert.equal(b.person.name, 'Putri Ayu');
    // A sibling's name, or none, opens nothing of hers; every mistake is named.
    const sibling = await lookup({ identifier: { type: 'mother-nik', value: mother }, name: 'Budi', birthDate: '2019-08-09' }, '10.1.0.3');
    assert.equal(sibling.statusCode, 202);
    assert.match(sibling.json().phoneHint, /^\*{4}-\*{4}-\*\d{3}$/, 'a hint of the same shape, naming nobody');
    const bad = await lookup({ identifier: { type: 'passport', value: 'X1234567', country: 'ZZ' }, birthDate: '1984-02-03' }, '10.1.0.4');
    assert.equal(bad.statusCode, 422);
    assert.deepEqual(bad.json().error.fields.map((f: { path: string }) => f.path), ['identifier.country']);
    const noName = await lookup({ identifier: { type: 'mother-nik', value: mother }, birthDate: '2019-08-09' }, '10.1.0.4');
    assert.deepEqual(noName.json().error.fields.map((f: { path: string }) => f.path), ['name']);
    const both = await lookup({ nik: who.nik, identifier: { type: 'passport', value: 'X1234567', country: 'SG' }, birthDate: '1984-02-03' }, '10.1.0.4');
    assert.deepEqual(both.json().error.fields.map((f: { path: string }) => f.path), ['identifier']);
  });

  it('answers a stranger exactly like an owner: no certificate, no sign of existence', async () => {
    const stranger = person();
    const known = await lookup({ nik: who.nik, birthDate: who.birthDate }, '10.0.0.2');
    const unknown = await lookup({ nik: stranger.nik, birthDate: stranger.birthDate }, '10.0.0.2');
    const wrongBirth = await lookup({ nik: who.nik, birthDate: '1901-01-01' }, '10.0.0.2');
    for (const r of [known, unknown, wrongBirth]) {
      assert.equal(r.statusCode, 202);
      assert.deepEqual(Object.keys(r.json()).sort(), ['phoneHint', 'requestId']);
      assert.match(r.json().phoneHint, /^\*{4}-\*{4}-\*\d{3}$/);
    }
    // The made-up hint is stable, like a real one.
    const unknownAgain = await lookup({ nik: stranger.nik, birthDate: stranger.birthDate }, '10.0.0.3');
    assert.equal(unknownAgain.json().phoneHint, unknown.json().phoneHint);
    // Guessing codes for a non-match reads exactly like a wrong code.
    const a = await rt.app.inject({ method: 'POST', url: `/api/v1/public/lookup/${unknown.json().requestId}/verify`, payload: { code: '123456' } });
    const b = await rt.app.inject({ method: 'POST', url: `/api/v1/public/lookup/${known.json().requestId}/verify`, payload: { code: '123456' } });
    assert.equal(a.statusCode, b.statusCode);
    assert.equal(a.body, b.body);
    // Knowing NIK, name, birth date, vaccination date and vaccine gives no certificate.
    const noToken = await rt.app.inject({ method: 'GET', url: '/api/v1/public/certificates' });
    assert.equal(noToken.statusCode, 401);
  });

  it('takes as long for a match as for a non-match (a floor for every answer)', async () => {
    const time = async (body: object, ip: string) => {
      const t0 = performance.now();
      await lookup(body, ip);
      return performance.now() - t0;
    };
    const s = person();
    // The real wait here (the other tests skip it: skipFloorWaits).
    delete rt.deps.sleep;
    const match = await time({ nik: who.nik, birthDate: who.birthDate }, '10.0.1.1');
    const none = await time({ nik: s.nik, birthDate: s.birthDate }, '10.0.1.2');
    skipFloorWaits(rt);
    assert.ok(match >= 400 && none >= 400, `both answers wait for the floor: ${match} ${none}`);
  });

  it('rate-limits per NIK and per client address', async () => {
    const s = person();
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) codes.push((await lookup({ nik: s.nik, birthDate: s.birthDate }, `10.0.2.${i}`)).statusCode);
    assert.deepEqual(codes, [202, 202, 202, 429]);
    const fromOne: number[] = [];
    for (let i = 0; i < 11; i++) fromOne.push((await lookup({ nik: person().nik, birthDate: '1980-01-01' }, '10.0.3.1')).statusCode);
    assert.equal(fromOne.filter((c) => c === 429).length, 1);
  });

  it('a wrong code leaves the code working and says how many tries remain, for a match and a non-match alike, counted right under concurrency (issue 17 item 11)', async () => {
    const me = person({ phone: '0812-5555-1234' });
    const recorded = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(fac.token), payload: doseBody(me) });
    assert.equal(recorded.statusCode, 201, recorded.body);
    await worker.drain();
    const stranger = person();
    const known = await lookup({ nik: me.nik, birthDate: me.birthDate }, '10.0.4.1');
    const unknown = await lookup({ nik: stranger.nik, birthDate: stranger.birthDate }, '10.0.4.1');
    await worker.drain();
    const verify = (requestId: string, code: string, lang = 'id') =>
      rt.app.inject({ method: 'POST', url: `/api/v1/public/lookup/${requestId}/verify`, payload: { code }, headers: { 'accept-language': lang } });
    for (const r of [known, unknown]) {
      const first = await verify(r.json().requestId, '123456');
      assert.equal(first.statusCode, 422, first.body);
      assert.equal(first.json().error.code, 'code_wrong');
      assert.equal(first.json().error.message, 'Kode salah — coba lagi (sisa 4 kali).');
      assert.deepEqual(first.json().error.detail, { remainingTries: 4 });
      assert.deepEqual(first.json().error.fields.map((f: { path: string }) => f.path), ['code']);
      const en = await verify(r.json().requestId, '123456', 'en');
      assert.equal(en.json().error.message, 'Wrong code — try again (3 tries left).');
      // Eight wrong tries at once on a request with 3 left: each try is counted once, never past the limit.
      const burst = await Promise.all(Array.from({ length: 8 }, () => verify(r.json().requestId, '123456')));
      const left = burst.filter((b) => b.json().error.code === 'code_wrong').map((b) => b.json().error.detail.remainingTries as number);
      assert.deepEqual(left.sort(), [1, 2], `the tries left counted down one by one: ${left.join(',')}`);
      assert.equal(burst.filter((b) => b.json().error.code === 'code_invalid').length, 6, 'then spent');
    }
    // The spent request opens nothing, even with the right code.
    const sink = (await rt.app.inject({ method: 'GET', url: '/api/v1/sms/sink', headers: bearer(ADMIN_TOKEN) })).json().messages;
    const code = /\b(\d{6})\b/.exec(sink.filter((m: { to: string }) => m.to === '+6281255551234').pop().text)?.[1];
    assert.ok(code);
    const late = await verify(known.json().requestId, code ?? '');
    assert.equal(late.json().error.code, 'code_invalid');
    // A code that is not 4–8 digits is named as such and costs no try.
    const typo = await verify(unknown.json().requestId, '12a');
    assert.equal(typo.statusCode, 422);
    assert.equal(typo.json().error.fields[0].code, 'code_format');
  });

  it('stops', async () => {
    await worker.stop?.();
    await rt.app.close();
  });
});
