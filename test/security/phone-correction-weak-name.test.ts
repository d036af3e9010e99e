/**
 * Issue 15, item 11 — a phone correction naming only "Budi" (score 0.4
 * against "Budi Santoso") was approvable by one support click, and the old
 * number never learned it had been replaced. Now a name below the minimum
 * score needs a second, different reviewer, and the replaced number gets
 * one SMS with no name and no link.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { describeEachBackend } from '../helpers/db.ts';
import { ADMIN_TOKEN, bearer, doseBody, facilityWithToken, person, testRuntime, tokenFor, skipFloorWaits } from '../helpers/app.ts';
import { MIN_SINGLE_APPROVAL_SCORE } from '../../src/access/phone-corrections.ts';
import type { Runtime } from '../../src/runtime.ts';
import type { Worker } from '../../src/notify/outbox.ts';

describeEachBackend('security: phone correction with a weak name match', (t) => {
  let rt: Runtime;
  let worker: Worker;
  let supportA: string;
  let supportB: string;
  const who = person({ name: 'Budi Santoso', phone: '0812-6060-7070' });
  const oldPhone = '+6281260607070';
  const newPhone = '+6285655554444';
  let personId = '';

  const as = (token: string, method: 'GET' | 'POST', url: string, payload?: object) =>
    rt.app.inject({ method, url, headers: bearer(token), ...(payload ? { payload } : {}) });
  const to = async (e164: string): Promise<{ to: string; text: string }[]> =>
    ((await as(ADMIN_TOKEN, 'GET', '/api/v1/sms/sink')).json().messages as { to: string; text: string }[]).filter((m) => m.to === e164);
  const phoneOnRecord = async () => (await t.db.query<{ phone: string }>('SELECT phone FROM people WHERE id = $1', [personId])).rows[0]?.phone;

  /** Files a correction through the public journey (code to the new number, entered) and returns its id. */
  const file = async (name: string, phone: string, ip: string): Promise<string> => {
    const res = await rt.app.inject({ method: 'POST', url: '/api/v1/public/phone-corrections', payload: { nik: who.nik, birthDate: who.birthDate, name, newPhone: phone }, remoteAddress: ip });
    assert.equal(res.statusCode, 202, res.body);
    await worker.drain();
    const code = /\b(\d{6})\b/.exec((await to(phone)).pop()?.text ?? '')?.[1];
    assert.ok(code);
    const ok = await rt.app.inject({ method: 'POST', url: `/api/v1/public/phone-corrections/${res.json().requestId}/verify`, payload: { code } });
    assert.equal(ok.statusCode, 200, ok.body);
    return res.json().requestId as string;
  };

  it('starts with Budi Santoso, his certificate SMS at his number', async () => {
    rt = await testRuntime(t.db);
    skipFloorWaits(rt);
    worker = rt.deps.notify.worker({ pollMs: 10 });
    const fac = await facilityWithToken(t.db);
    supportA = await tokenFor(t.db, 'support');
    supportB = await tokenFor(t.db, 'support');
    const res = await as(fac.token, 'POST', '/api/v1/vaccinations', doseBody(who));
    assert.equal(res.statusCode, 201, res.body);
    personId = res.json().person.id;
    await worker.drain();
    assert.equal((await to(oldPhone)).length, 1);
  });

  it('a request naming only "Budi" is not approved by one reviewer; a second, different one applies it; the old number is told once', async () => {
    const id = await file('Budi', newPhone, '10.9.0.1');
    const item = (await as(supportA, 'GET', `/api/v1/phone-corrections/${id}`)).json();
    assert.ok(item.match.nameScore < MIN_SINGLE_APPROVAL_SCORE, String(item.match.nameScore));
    assert.equal(item.review.approval, 'two_reviewers');

    const first = await as(supportA, 'POST', `/api/v1/phone-corrections/${id}/approve`);
    assert.equal(first.statusCode, 200, first.body);
    assert.equal(first.json().status, 'open', 'one approval is not enough');
    assert.ok(first.json().review.firstApprovedBy);
    assert.equal(await phoneOnRecord(), oldPhone);

    const same = await as(supportA, 'POST', `/api/v1/phone-corrections/${id}/approve`);
    assert.equal(same.statusCode, 409, same.body);
    assert.equal(same.json().error.code, 'second_reviewer_required');
    assert.equal(await phoneOnRecord(), oldPhone);

    const second = await as(supportB, 'POST', `/api/v1/phone-corrections/${id}/approve`);
    assert.equal(second.statusCode, 200, second.body);
    assert.equal(second.json().status, 'approved');
    assert.equal(await phoneOnRecord(), newPhone);
    await worker.drain();
    const old = await to(oldPhone);
    assert.equal(old.length, 2, 'the certificate SMS, then one notice');
    const notice = old[1]?.text ?? '';
    assert.match(notice, /diganti|another phone number/);
    assert.ok(!/https?:|\/c\//.test(notice) && !notice.includes('Budi'), notice);
    const actions = (await t.db.query<{ action: string }>('SELECT action FROM audit_log WHERE subject = $1 ORDER BY id', [id])).rows.map((r) => r.action);
    assert.ok(actions.includes('phone_correction_first_approval') && actions.includes('phone_correction_approved'), actions.join());
  });

  it('a request with the full name is approved by one reviewer', async () => {
    const id = await file('Budi Santoso', '+6285633332222', '10.9.0.2');
    const yes = await as(supportA, 'POST', `/api/v1/phone-corrections/${id}/approve`);
    assert.equal(yes.statusCode, 200, yes.body);
    assert.equal(yes.json().status, 'approved');
    assert.equal(yes.json().review.approval, 'single');
    assert.equal(await phoneOnRecord(), '+6285633332222');
    await worker.drain();
    assert.equal((await to(newPhone)).filter((m) => /diganti|another phone number/.test(m.text)).length, 1, 'the number it replaced is told');
  });
});
