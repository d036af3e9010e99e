/**
 * The certificate page an SMS links to (/c/<token>), in real Chromium at
 * phone width: what a person sees, in Indonesian and in English; the QR
 * code drawn by the page, read back from a screenshot, verifies; the PDF
 * downloaded from the page carries a QR that verifies; no request leaves
 * the site. Screenshots are saved in test-results/screenshots/.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { createFacility } from '../../src/records/facilities.ts';
import { createToken } from '../../src/access/tokens.ts';
import { decodeQrPng } from '../../src/certificates/qr-image.ts';
import { maskNik } from '../../src/domain/masking.ts';
import { formatDate } from '../../src/certificates/display.ts';
import { person } from '../helpers/app.ts';
import { browserSkip, downloaded, launchBrowser, watchedPage, qrOfPdf, recordDose, screenshot, startServer, type TestServer } from './helpers.ts';

describe('certificate page /c/<token> in Chromium', { skip: browserSkip }, () => {
  let server: TestServer;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  const outside: string[] = [];
  const errors: string[] = [];
  const p = person({ name: 'Siti Rahmawati', sex: 'F', birthDate: '1987-02-14' });
  let dose1: Awaited<ReturnType<typeof recordDose>>;
  let dose2: Awaited<ReturnType<typeof recordDose>>;

  before(async () => {
    server = await startServer();
    await createFacility(server.db.db, { code: 'PKM-MENTENG', name: 'Puskesmas Kecamatan Menteng', regionCode: '317101' });
    const token = (await createToken(server.db.db, { role: 'facility', facility: 'PKM-MENTENG', label: 'test' }, null)).token;
    const facility = { code: 'PKM-MENTENG', token };
    dose1 = await recordDose(server, { person: p, facility, body: { doseNumber: 1, date: '2021-06-10' } });
    dose2 = await recordDose(server, { person: p, facility, body: { doseNumber: 2, date: '2021-07-08', vaccine: 'CORONAVAC' } });
    browser = await launchBrowser();
    page = await watchedPage(browser, server.url, outside, errors);
  });
  after(async () => {
    await browser?.cleanup();
    await server?.stop();
  });

  it('shows each dose with its QR code and facts, the NIK masked, in Indonesian by default', async () => {
    await page.goto(server.url + dose1.linkPath);
    await page.getByTestId('certificate').nth(1).waitFor();
    assert.equal(await page.getAttribute('html', 'lang'), 'id');
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Sertifikat Vaksinasi Anda');
    assert.equal(await page.getByTestId('holder-name').textContent(), 'Siti Rahmawati');
    assert.equal(await page.getByTestId('identifier').textContent(), maskNik(p.nik));
    const content = await page.content();
    assert.ok(!content.includes(p.nik), 'the whole NIK is not on the page');
    // The latest dose first, then dose 1.
    assert.deepEqual(await page.locator('[data-testid=certificate] h2').allTextContents(), ['Dosis 2', 'Dosis 1']);
    const card = page.getByTestId('certificate').first();
    for (const text of ['CoronaVac', 'Puskesmas Kecamatan Menteng', '8 Juli 2021', 'Dosis 2 dari 2', 'Vaksinasi primer', dose2.certificate.uvci, 'Berlaku']) {
      assert.ok((await card.textContent())?.includes(text), `the card says ${text}`);
    }
    const next = dose2.nextDose as { doseNumber: number; due: string };
    assert.equal(await page.getByTestId('next-dose').textContent(), `Dosis ${next.doseNumber} (booster) dapat diberikan mulai ${formatDate(next.due, 'id')}.`);
    // Fits a 360-px phone: nothing wider than the screen.
    assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 360);
    await screenshot(page, 'certificate-page-id');
  });

  it('draws a QR code that reads back to the signed certificate, and it verifies', async () => {
    const qr = page.getByRole('img', { name: 'Kode QR sertifikat dosis 2' });
    const png = await qr.screenshot();
    const text = await decodeQrPng(png);
    assert.equal(text, dose2.certificate.qr);
    const verified = await server.rt.app.inject({ method: 'POST', url: '/api/v1/verify', payload: { qr: text } });
    assert.equal(verified.json().valid, true);
  });

  it('switches to English and remembers it', async () => {
    await page.getByRole('button', { name: 'English' }).click();
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Your Vaccination Certificate');
    assert.ok((await page.getByTestId('certificate').first().textContent())?.includes('8 July 2021'));
    await page.reload();
    await page.getByTestId('certificate').first().waitFor();
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Your Vaccination Certificate');
    assert.equal(await page.title(), 'Your Vaccination Certificate — Dosis');
    await screenshot(page, 'certificate-page-en');
    await page.getByRole('button', { name: 'Bahasa Indonesia' }).click();
    assert.equal(await page.getAttribute('html', 'lang'), 'id');
  });

  it('downloads the PDF, whose QR code, read from the rendered page, verifies', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('pdf-link').first().click()]);
    assert.equal(download.suggestedFilename(), 'sertifikat-vaksinasi-dosis-2.pdf');
    const pdf = await downloaded(download);
    const qr = await qrOfPdf(pdf);
    assert.equal(qr, dose2.certificate.qr);
    const verified = await server.rt.app.inject({ method: 'POST', url: '/api/v1/verify', payload: { qr } });
    assert.equal(verified.json().valid, true);
  });

  it('says clearly when a link is not valid', async () => {
    await page.goto(`${server.url}/c/AAAAAAAAAAAAAAAAAAAAAA`);
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match((await alert.textContent()) ?? '', /Tautan ini tidak valid atau sudah kedaluwarsa/);
    await screenshot(page, 'certificate-page-invalid-link');
  });

  it('made no request outside the site, and no script error', () => {
    assert.deepEqual(outside, []);
    assert.deepEqual(errors, []);
  });
});
