/**
 * The PDF behind the portal, on both backends: a portal access token (the
 * one the one-time code opens) downloads its own person's PDFs, as a Bearer
 * header or as `?access=` in a download link, and never another person's.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { describeEachBackend } from '../helpers/db.ts';
import { ADMIN_TOKEN, bearer, doseBody, facilityWithToken, person, testRuntime } from '../helpers/app.ts';
import type { Runtime } from '../../src/runtime.ts';
import type { Worker } from '../../src/notify/outbox.ts';
import { qrOfPdf } from './helpers.ts';

describeEachBackend('PDF with a portal access token', (t) => {
  let rt: Runtime;
  let worker: Worker;
  const owner = person({ phone: '0812-4444-7890' });
  const other = person({ phone: '0813-3333-1234' });
  let mine: { id: string; qr: string; link: string };
  let theirs: { id: string; link: string };
  let accessToken: string;

  before(async () => {
    rt = await testRuntime(t.db);
    worker = rt.deps.notify.worker({ pollMs: 10 });
    const facility = await facilityWithToken(t.db);
    const dose = async (p: ReturnType<typeof person>) => {
      const r = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(facility.token), payload: doseBody(p) });
      assert.equal(r.statusCode, 201, r.body);
      return r.json().certificate;
    };
    mine = await dose(owner);
    theirs = await dose(other);
    await worker.drain();

    const lookup = await rt.app.inject({ method: 'POST', url: '/api/v1/public/lookup', payload: { nik: owner.nik, birthDate: owner.birthDate } });
    assert.equal(lookup.statusCode, 202, lookup.body);
    await worker.drain();
    const sink = (await rt.app.inject({ method: 'GET', url: '/api/v1/sms/sink', headers: bearer(ADMIN_TOKEN) })).json().messages as { to: string; text: string }[];
    const sms = sink.filter((m) => m.to === '+6281244447890').pop();
    const code = /\b(\d{6})\b/.exec(sms?.text ?? '')?.[1];
    assert.ok(code, 'a code in the SMS');
    const ok = await rt.app.inject({ method: 'POST', url: `/api/v1/public/lookup/${lookup.json().requestId}/verify`, payload: { code } });
    assert.equal(ok.statusCode, 200, ok.body);
    accessToken = ok.json().accessToken;
  });
  after(async () => {
    await worker?.stop?.();
    await rt?.app.close();
  });

  it('gets its own PDF with the Bearer header and with ?access=, and the QR verifies', async () => {
    const byHeader = await rt.app.inject({ url: `/api/v1/public/certificates/${mine.id}/pdf`, headers: bearer(accessToken) });
    assert.equal(byHeader.statusCode, 200, byHeader.body);
    assert.equal(byHeader.headers['content-type'], 'application/pdf');
    assert.equal(byHeader.headers['cache-control'], 'no-store');
    const byLink = await rt.app.inject({ url: `/api/v1/public/certificates/${mine.id}/pdf?access=${encodeURIComponent(accessToken)}` });
    assert.equal(byLink.statusCode, 200, byLink.body);
    assert.equal(byLink.headers.etag, byHeader.headers.etag, 'the same cached version');
    assert.equal(await qrOfPdf(byLink.rawPayload), mine.qr);
  });

  it('does not get another person’s PDF', async () => {
    for (const r of [
      await rt.app.inject({ url: `/api/v1/public/certificates/${theirs.id}/pdf`, headers: bearer(accessToken) }),
      await rt.app.inject({ url: `/api/v1/public/certificates/${theirs.id}/pdf?access=${encodeURIComponent(accessToken)}` }),
    ]) {
      assert.equal(r.statusCode, 404, r.body);
      assert.equal(r.json().error.code, 'certificate_not_found');
      assert.notEqual(r.headers['content-type'], 'application/pdf');
    }
  });

  it('needs a live session or the link: nothing, a made-up token or another link gives no PDF', async () => {
    assert.equal((await rt.app.inject({ url: `/api/v1/public/certificates/${mine.id}/pdf` })).statusCode, 401);
    assert.equal((await rt.app.inject({ url: `/api/v1/public/certificates/${mine.id}/pdf`, headers: bearer('x'.repeat(43)) })).statusCode, 401);
    assert.equal((await rt.app.inject({ url: `/api/v1/public/certificates/${mine.id}/pdf?access=${'y'.repeat(43)}` })).statusCode, 401);
    const otherLink = new URL(theirs.link).pathname.replace('/c/', '');
    assert.equal((await rt.app.inject({ url: `/api/v1/public/certificates/${mine.id}/pdf?token=${otherLink}` })).statusCode, 404);
    // The SMS link still works on its own.
    const ownLink = new URL(mine.link).pathname.replace('/c/', '');
    assert.equal((await rt.app.inject({ url: `/api/v1/public/certificates/${mine.id}/pdf?token=${ownLink}` })).statusCode, 200);
  });
});
