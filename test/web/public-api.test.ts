/**
 * The citizen-facing API behind the pages, on both backends: the SMS link's
 * certificates (masked NIK, next dose, replaced certificates), the PDF
 * (authorised by the link, rendered once per version and cached, its QR
 * read back from the rendered page and verified), and how the pages
 * themselves are served (headers, pre-compressed assets).
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { describeEachBackend } from '../helpers/db.ts';
import { bearer, doseBody, facilityWithToken, person, testRuntime } from '../helpers/app.ts';
import type { Runtime } from '../../src/runtime.ts';
import { maskNik } from '../../src/domain/masking.ts';
import { ensureWebBuild } from '../../scripts/build-web.ts';
import { qrOfPdf, textOfPdf } from './helpers.ts';

describeEachBackend('public certificate API', (t) => {
  let rt: Runtime;
  let facility: { code: string; token: string };
  const p = person({ name: 'Siti Rahmawati', sex: 'F', birthDate: '1987-02-14' });
  let first: { certificate: { id: string; qr: string; uvci: string; link: string } };
  let second: { certificate: { id: string; qr: string; uvci: string; link: string }; nextDose: { due: string; doseNumber: number } };
  const tokenOf = (link: string): string => new URL(link).pathname.replace('/c/', '');

  before(async () => {
    await ensureWebBuild(() => {});
    rt = await testRuntime(t.db);
    facility = await facilityWithToken(t.db);
    const dose = async (over: Record<string, unknown>) => {
      const r = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(facility.token), payload: doseBody(p, over) });
      assert.equal(r.statusCode, 201, r.body);
      return r.json();
    };
    first = await dose({ doseNumber: 1, date: '2021-06-10' });
    second = await dose({ doseNumber: 2, date: '2021-07-08' });
  });
  after(async () => {
    await rt.app.close();
  });

  it('the SMS link opens every certificate of the person, the NIK masked, with the next dose due', async () => {
    const r = await rt.app.inject({ url: `/api/v1/public/links/${tokenOf(first.certificate.link)}` });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.headers['cache-control'], 'no-store');
    assert.equal(r.headers['referrer-policy'], 'no-referrer');
    const body = r.json();
    assert.equal(body.person.name, 'Siti Rahmawati');
    assert.equal(body.person.birthDate, '1987-02-14');
    assert.deepEqual(body.person.identifier, { type: 'nik', masked: maskNik(p.nik), country: null });
    assert.match(body.person.identifier.masked, /^\d{6}\*{8}\d{2}$/);
    assert.ok(!r.body.includes(p.nik), 'the whole NIK is never sent');
    assert.ok(!r.body.includes(p.phone.slice(-6)), 'nor the phone');
    assert.ok(!('personId' in body));
    assert.deepEqual(
      body.certificates.map((c: { doseNumber: number; id: string }) => [c.doseNumber, c.id]),
      [
        [1, first.certificate.id],
        [2, second.certificate.id],
      ],
    );
    const c2 = body.certificates[1];
    assert.equal(c2.qr, second.certificate.qr);
    assert.equal(c2.vaccine.name, 'CoronaVac');
    assert.equal(c2.facility.code, facility.code);
    assert.equal(c2.date, '2021-07-08');
    assert.deepEqual([c2.dn, c2.sd, c2.role], [2, 2, 'primary']);
    assert.equal(c2.pdf, `/api/v1/public/certificates/${c2.id}/pdf?token=${tokenOf(first.certificate.link)}`);
    assert.deepEqual(body.nextDose, second.nextDose);
    assert.deepEqual(body.linked, { certificateId: first.certificate.id, status: 'valid' });
  });

  it('an unknown, malformed or expired link is a 404 that says so in the asked language', async () => {
    for (const token of ['AAAAAAAAAAAAAAAAAAAAAA', 'not a token!', 'x'.repeat(90)]) {
      const r = await rt.app.inject({ url: `/api/v1/public/links/${encodeURIComponent(token)}`, headers: { 'accept-language': 'id' } });
      assert.equal(r.statusCode, 404, token);
      assert.equal(r.json().error.code, 'link_not_found');
      assert.match(r.json().error.message, /Tautan ini tidak valid/);
    }
    const other = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(facility.token), payload: doseBody() });
    const token = tokenOf(other.json().certificate.link);
    await t.db.query("UPDATE link_tokens SET expires_at = now() - interval '1 day' WHERE person_id = $1", [other.json().person.id]);
    const r = await rt.app.inject({ url: `/api/v1/public/links/${token}` });
    assert.equal(r.statusCode, 404);
  });

  it('a link to a certificate replaced since says so, and lists only the valid ones', async () => {
    const q = person();
    const a = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(facility.token), payload: doseBody(q) });
    const b = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(facility.token), payload: doseBody(q, { doseNumber: 2, date: '2021-07-08' }) });
    await t.db.query("UPDATE certificates SET status = 'superseded' WHERE person_id = $1 AND id = $2", [a.json().person.id, a.json().certificate.id]);
    const r = await rt.app.inject({ url: `/api/v1/public/links/${tokenOf(a.json().certificate.link)}` });
    assert.equal(r.statusCode, 200);
    assert.deepEqual(r.json().linked, { certificateId: a.json().certificate.id, status: 'superseded' });
    assert.deepEqual(
      r.json().certificates.map((c: { id: string }) => c.id),
      [b.json().certificate.id],
    );
    const pdf = await rt.app.inject({ url: `/api/v1/public/certificates/${a.json().certificate.id}/pdf?token=${tokenOf(a.json().certificate.link)}` });
    assert.equal(pdf.statusCode, 404, 'no PDF of a replaced certificate');
  });

  it('the PDF: A4, both languages, NIK masked, rendered once and served from the cache, its QR verifies', async () => {
    const token = tokenOf(second.certificate.link);
    const url = `/api/v1/public/certificates/${second.certificate.id}/pdf?token=${token}`;
    const r1 = await rt.app.inject({ url });
    assert.equal(r1.statusCode, 200, r1.body);
    assert.equal(r1.headers['content-type'], 'application/pdf');
    assert.match(String(r1.headers['content-disposition']), /^attachment; filename="sertifikat-vaksinasi-dosis-2\.pdf"$/);
    assert.equal(r1.headers['cache-control'], 'no-store');
    const pdf = r1.rawPayload;
    assert.equal(pdf.subarray(0, 5).toString(), '%PDF-');
    assert.match(pdf.toString('latin1'), /\/MediaBox \[0 0 595\.28 841\.89\]/, 'A4');

    const text = textOfPdf(pdf);
    for (const s of ['Sertifikat Vaksinasi COVID-19', 'COVID-19 Vaccination Certificate', 'Siti Rahmawati', maskNik(p.nik), 'Tanggal vaksinasi', 'Date of vaccination', '8 Juli / July 2021', second.certificate.uvci]) {
      assert.ok(text.includes(s), `the PDF says ${s}`);
    }
    assert.ok(!text.includes(p.nik), 'the whole NIK is not in the PDF');

    const qr = await qrOfPdf(pdf);
    assert.equal(qr, second.certificate.qr);
    const verified = await rt.app.inject({ method: 'POST', url: '/api/v1/verify', payload: { qr } });
    assert.equal(verified.json().valid, true);

    // Again: the same bytes from the cache, one row in the table; the ETag answers a revalidation with 304.
    const r2 = await rt.app.inject({ url });
    assert.deepEqual(r2.rawPayload, pdf);
    assert.equal(r2.headers.etag, r1.headers.etag);
    const rows = await t.db.query<{ n: string }>('SELECT count(*)::text AS n FROM certificate_pdfs WHERE certificate_id = $1', [second.certificate.id]);
    assert.equal(rows.rows[0]!.n, '1');
    const r304 = await rt.app.inject({ url, headers: { 'if-none-match': String(r1.headers.etag) } });
    assert.equal(r304.statusCode, 304);

    // Another process (a second app over the same database) serves the stored PDF without rendering it again.
    const other = await testRuntime(t.db);
    try {
      const before = await t.db.query<{ created_at: Date }>('SELECT created_at FROM certificate_pdfs WHERE certificate_id = $1', [second.certificate.id]);
      const r3 = await other.app.inject({ url });
      assert.deepEqual(r3.rawPayload, pdf);
      const afterwards = await t.db.query<{ created_at: Date }>('SELECT created_at FROM certificate_pdfs WHERE certificate_id = $1', [second.certificate.id]);
      assert.deepEqual(afterwards.rows, before.rows);
    } finally {
      await other.app.close();
    }

    // A facility renamed since: the PDF shows the new name (a new version), and the old version is gone.
    await t.db.query('UPDATE facilities SET name = $2 WHERE code = $1', [facility.code, 'Puskesmas Kecamatan Menteng']);
    const r4 = await rt.app.inject({ url });
    assert.notEqual(r4.headers.etag, r1.headers.etag);
    assert.ok(textOfPdf(r4.rawPayload).includes('Puskesmas Kecamatan Menteng'));
    const versions = await t.db.query('SELECT version FROM certificate_pdfs WHERE certificate_id = $1', [second.certificate.id]);
    assert.equal(versions.rowCount, 1);
  });

  it('a PDF is given only with a link of the same person (no credential at all: 401, a portal session is asked for)', async () => {
    const stranger = await rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(facility.token), payload: doseBody() });
    const cases = [
      `/api/v1/public/certificates/${second.certificate.id}/pdf?token=${tokenOf(stranger.json().certificate.link)}`,
      `/api/v1/public/certificates/${second.certificate.id}/pdf?token=AAAAAAAAAAAAAAAAAAAAAA`,
      `/api/v1/public/certificates/${second.certificate.id}/pdf`,
      `/api/v1/public/certificates/not-a-uuid/pdf?token=${tokenOf(second.certificate.link)}`,
    ];
    const statuses = [];
    for (const url of cases) statuses.push((await rt.app.inject({ url })).statusCode);
    assert.deepEqual(statuses, [404, 404, 401, 422]);
  });

  it('serves the pages with a strict policy, and their assets pre-compressed and cached for good', async () => {
    const verify = await rt.app.inject({ url: '/verify' });
    assert.equal(verify.statusCode, 200);
    assert.match(String(verify.headers['content-type']), /^text\/html/);
    assert.match(String(verify.headers['content-security-policy']), /default-src 'self'/);
    assert.match(verify.body, /<div id="app">/);
    const page = await rt.app.inject({ url: `/c/${tokenOf(first.certificate.link)}` });
    assert.equal(page.statusCode, 200);
    assert.equal(page.headers['referrer-policy'], 'no-referrer');
    assert.equal(page.headers['x-robots-tag'], 'noindex');
    assert.ok(!page.body.includes(tokenOf(first.certificate.link)), 'the HTML is the same for every token');
    assert.equal((await rt.app.inject({ url: '/verify', headers: { 'if-none-match': String(verify.headers.etag) } })).statusCode, 304);
    assert.match((await rt.app.inject({ url: '/' })).body, /<div id="app">/, 'the front door is the citizen portal');

    const script = /src="(\/assets\/verify-[^"]+\.js)"/.exec(verify.body)?.[1];
    assert.ok(script, 'the page loads its script from /assets/');
    const js = await rt.app.inject({ url: script, headers: { 'accept-encoding': 'br, gzip' } });
    assert.equal(js.statusCode, 200);
    assert.equal(js.headers['content-encoding'], 'br');
    assert.match(String(js.headers['cache-control']), /immutable/);
    const sw = await rt.app.inject({ url: '/sw-verify.js' });
    assert.equal(sw.statusCode, 200);
    assert.equal(sw.headers['cache-control'], 'no-cache');
    assert.ok(sw.body.includes(script), 'the service worker keeps the page script for offline use');
    assert.equal((await rt.app.inject({ url: '/assets/nothing-here.js' })).statusCode, 404);
  });
});
