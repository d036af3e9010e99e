/**
 * "Dosis saya tidak tercatat / My dose is missing" in the citizen portal, in
 * real Chromium at phone width: after the code from the SMS, the person
 * reports dose 2 (facility found by name, vaccine, dose, lot); empty required
 * fields are named; the report lands on the facility's work list; once the
 * facility enters it, the portal says so in words. Screenshots in
 * test-results/screenshots/portal-dose-request-*.png.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { Worker } from '../../src/notify/outbox.ts';
import { bearer, facilityWithToken, person } from '../helpers/app.ts';
import { browserSkip, launchBrowser, watchedPage, recordDose, screenshot, smsCode, startServer, type TestServer } from './helpers.ts';

describe('portal: reporting a missing dose, in Chromium', { skip: browserSkip }, () => {
  let server: TestServer;
  let worker: Worker;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  const errors: string[] = [];
  const outside: string[] = [];
  const p = person({ name: 'Ayu Lestari', sex: 'F', birthDate: '1988-04-12', phone: '0812-6666-3344' });
  let facility: { code: string; token: string };

  const signIn = async (): Promise<void> => {
    await page.goto(server.url + '/');
    await page.getByLabel('NIK (16 angka)').fill(p.nik);
    await page.getByLabel('Tanggal lahir').fill(p.birthDate);
    await page.getByRole('button', { name: 'Kirim kode' }).click();
    // The code field shows once the server has the request (and its SMS job): then the drain sends this code, not none or the last sign-in's.
    const field = page.getByLabel('Kode dari SMS');
    await field.fill(await smsCode(server, worker, '+6281266663344', field));
    await page.getByRole('button', { name: 'Buka sertifikat' }).click();
    await page.getByTestId('certificate').first().waitFor();
  };

  before(async () => {
    server = await startServer();
    worker = server.rt.deps.notify.worker({ pollMs: 10 });
    facility = await facilityWithToken(server.db.db);
    await facilityWithToken(server.db.db); // a second "Puskesmas …" in the search results
    await recordDose(server, { person: p, facility, body: { doseNumber: 1, date: '2021-08-02' } });
    await worker.drain();
    browser = await launchBrowser();
    page = await watchedPage(browser, server.url, outside, errors);
  });
  after(async () => {
    await worker?.stop?.();
    await browser?.cleanup();
    await server?.stop();
  });

  it('offers "Dosis saya tidak tercatat" above the certificates and names the empty required fields', async () => {
    await signIn();
    await page.getByRole('button', { name: 'Dosis saya tidak tercatat' }).click();
    await page.getByRole('heading', { name: 'Laporkan dosis yang tidak tercatat' }).waitFor();
    await page.getByRole('button', { name: 'Kirim laporan' }).click();
    // The error is part of each field's label, so a screen reader says it with the field.
    for (const label of [/^Tanggal vaksinasi/, /^Faskes tempat vaksinasi/, /^Vaksin\b/]) {
      const field = page.getByLabel(label);
      assert.equal(await field.getAttribute('aria-invalid'), 'true', String(label));
      assert.match((await field.evaluate((e) => document.getElementById((e.getAttribute('aria-describedby') ?? '').split(' ').pop() ?? '')?.textContent)) ?? '', /^Wajib diisi\.$/);
    }
    assert.equal(await page.getByLabel('Dosis ke').getAttribute('aria-invalid'), 'false');
    assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 360);
    await screenshot(page, 'portal-dose-request-empty-id');
  });

  it('sends the report with the facility found by name; it lands on that facility’s work list', async () => {
    await page.getByLabel('Tanggal vaksinasi').fill('2021-08-30');
    await page.getByRole('combobox', { name: 'Faskes tempat vaksinasi' }).fill('Puskesmas');
    await page.getByRole('option', { name: new RegExp(`\\(${facility.code}\\)$`) }).click();
    await page.getByLabel(/^Vaksin\b/).selectOption('CORONAVAC');
    await page.getByLabel('Dosis ke').selectOption('2');
    await page.getByLabel('Nomor batch (jika tahu)').fill('K2108');
    await page.getByLabel('Catatan (tidak wajib)').fill('Kartu vaksinasi masih saya simpan.');
    assert.equal(await page.getByText('Wajib diisi.').count(), 0, 'a filled field loses its error');
    assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 360);
    await screenshot(page, 'portal-dose-request-filled-id');
    await page.getByRole('button', { name: 'Kirim laporan' }).click();
    await page.getByTestId('dose-request').first().waitFor();
    assert.match((await page.getByRole('status').first().textContent()) ?? '', /Laporan terkirim ke Puskesmas \d+\./);
    const item = page.getByTestId('dose-request').first();
    assert.equal(await item.getAttribute('data-status'), 'open');
    assert.match((await item.textContent()) ?? '', /Dosis 2 · CoronaVac · 2021-08-30.*Menunggu pemeriksaan faskes/);
    await screenshot(page, 'portal-dose-request-sent-id');

    const list = await server.rt.app.inject({ method: 'GET', url: '/api/v1/dose-requests?status=open', headers: bearer(facility.token) });
    const onList = list.json().requests as { id: string; lot: string; note: string; doseNumber: number }[];
    assert.equal(onList.length, 1);
    assert.equal(onList[0]!.lot, 'K2108');
    assert.equal(onList[0]!.note, 'Kartu vaksinasi masih saya simpan.');
    const rec = await server.rt.app.inject({ method: 'POST', url: `/api/v1/dose-requests/${onList[0]!.id}/record`, headers: bearer(facility.token), payload: {} });
    assert.equal(rec.statusCode, 201, rec.body);
  });

  it('says in words, in English too, that the facility entered the dose', async () => {
    await page.getByRole('button', { name: 'Selesai', exact: true }).click();
    await signIn();
    const item = page.getByTestId('dose-request').first();
    await item.waitFor();
    assert.equal(await item.getAttribute('data-status'), 'entered');
    assert.match((await item.textContent()) ?? '', /Dosis sudah dicatat — sertifikat terbit/);
    assert.equal(await page.getByTestId('certificate').count(), 2, 'and its certificate is shown');
    await page.getByRole('button', { name: 'English' }).click();
    assert.match((await page.getByTestId('dose-request').first().textContent()) ?? '', /Dose recorded — certificate issued/);
    assert.ok(await page.getByRole('button', { name: 'My dose is missing' }).isVisible());
    assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 360);
    await screenshot(page, 'portal-dose-request-entered-en');
    await page.getByRole('button', { name: 'Bahasa Indonesia' }).click();
  });

  it('made no request outside the site, and no script error', () => {
    assert.deepEqual(outside, []);
    assert.deepEqual(errors, []);
  });
});
