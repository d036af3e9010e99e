/**
 * The citizen portal (/) in real Chromium at phone width: NIK + birth date →
 * "code sent to +62 812-****-7890" → the code, read from the local SMS sink
 * → the person's certificates with their QR codes and PDF; an unknown NIK
 * shows the same "code sent" screen; English by the switch. Screenshots in
 * test-results/screenshots/portal-*.png.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { decodeQrPng } from '../../src/certificates/qr-image.ts';
import { maskNik } from '../../src/records/people.ts';
import type { Worker } from '../../src/notify/outbox.ts';
import { ADMIN_TOKEN, bearer, person } from '../helpers/app.ts';
import { launchBrowser, watchedPage, qrOfPdf, recordDose, screenshot, startServer, type TestServer } from './helpers.ts';

describe('citizen portal / in Chromium', () => {
  let server: TestServer;
  let worker: Worker;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  const outside: string[] = [];
  const errors: string[] = [];
  const p = person({ name: 'Budi Santoso', sex: 'M', birthDate: '1979-11-03', phone: '0812-6666-7890' });
  let dose: Awaited<ReturnType<typeof recordDose>>;

  /** The last code the SMS sink holds for +6281266667890. */
  const smsCode = async (): Promise<string> => {
    await worker.drain();
    const r = await server.rt.app.inject({ method: 'GET', url: '/api/v1/sms/sink', headers: bearer(ADMIN_TOKEN) });
    const sms = (r.json().messages as { to: string; text: string }[]).filter((m) => m.to === '+6281266667890').pop();
    const code = /\b(\d{6})\b/.exec(sms?.text ?? '')?.[1];
    assert.ok(code, `a code in ${sms?.text}`);
    return code;
  };

  before(async () => {
    server = await startServer();
    worker = server.rt.deps.notify.worker({ pollMs: 10 });
    dose = await recordDose(server, { person: p, body: { doseNumber: 1, date: '2021-08-02' } });
    await worker.drain();
    browser = await launchBrowser();
    page = await watchedPage(browser, server.url, outside, errors);
  });
  after(async () => {
    await worker?.stop?.();
    await browser?.cleanup();
    await server?.stop();
  });

  it('asks for NIK and birth date, in Indonesian by default, and fits a 360-px phone', async () => {
    await page.goto(server.url + '/');
    await page.getByLabel('NIK (16 angka)').waitFor();
    assert.equal(await page.getAttribute('html', 'lang'), 'id');
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Dapatkan Sertifikat Vaksinasi');
    assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 360);
    await screenshot(page, 'portal-start-id');
  });

  it('an unknown NIK shows the same "code sent" screen', async () => {
    const stranger = person();
    await page.getByLabel('NIK (16 angka)').fill(stranger.nik);
    await page.getByLabel('Tanggal lahir').fill(stranger.birthDate);
    await page.getByRole('button', { name: 'Kirim kode' }).click();
    await page.getByTestId('code-sent').waitFor();
    assert.match((await page.getByTestId('code-sent').textContent()) ?? '', /^Kode dikirim ke \+62 8\d\d-\*\*\*\*-\d{4}\./);
    assert.ok(await page.getByLabel('Kode dari SMS').isVisible());
    await screenshot(page, 'portal-code-sent-unknown');
    // A guessed code reads as a wrong code.
    await page.getByLabel('Kode dari SMS').fill('123456');
    await page.getByRole('button', { name: 'Buka sertifikat' }).click();
    await page.getByRole('alert').waitFor();
    assert.match((await page.getByRole('alert').textContent()) ?? '', /Kode salah atau sudah tidak berlaku/);
    await page.getByRole('button', { name: 'Mulai lagi' }).click();
  });

  it('sends the code to the masked phone on record; the code from the SMS opens the certificate', async () => {
    await page.getByLabel('NIK (16 angka)').fill(p.nik);
    await page.getByLabel('Tanggal lahir').fill(p.birthDate);
    await page.getByRole('button', { name: 'Kirim kode' }).click();
    await page.getByTestId('code-sent').waitFor();
    assert.equal(await page.getByTestId('phone-hint').textContent(), '+62 812-****-7890');
    assert.ok(!(await page.content()).includes('6666'), 'the phone is masked');
    await screenshot(page, 'portal-code-sent');
    await page.getByLabel('Kode dari SMS').fill(await smsCode());
    await page.getByRole('button', { name: 'Buka sertifikat' }).click();
    await page.getByTestId('certificate').first().waitFor();
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Sertifikat Vaksinasi Anda');
    assert.equal(await page.getByTestId('holder-name').textContent(), 'Budi Santoso');
    assert.equal(await page.getByTestId('identifier').textContent(), maskNik(p.nik));
    assert.ok(!(await page.content()).includes(p.nik), 'the whole NIK is not on the page');
    assert.ok((await page.getByTestId('certificate').first().textContent())?.includes(dose.certificate.uvci));
    assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 360);
    await screenshot(page, 'portal-certificates-id');
  });

  it('draws the QR code, which reads back to the signed certificate and verifies', async () => {
    const png = await page.getByRole('img', { name: 'Kode QR sertifikat dosis 1' }).screenshot();
    const text = await decodeQrPng(png);
    assert.equal(text, dose.certificate.qr);
    const verified = await server.rt.app.inject({ method: 'POST', url: '/api/v1/verify', payload: { qr: text } });
    assert.equal(verified.json().valid, true);
  });

  it('downloads the PDF with the session, whose QR verifies', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('pdf-link').first().click()]);
    assert.equal(download.suggestedFilename(), 'sertifikat-vaksinasi-dosis-1.pdf');
    const qr = await qrOfPdf(readFileSync(await download.path()));
    assert.equal(qr, dose.certificate.qr);
  });

  it('switches to English', async () => {
    await page.getByRole('button', { name: 'English' }).click();
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Your Vaccination Certificate');
    assert.equal(await page.title(), 'Your Vaccination Certificate — Dosis');
    await screenshot(page, 'portal-certificates-en');
    await page.getByRole('button', { name: 'Done', exact: true }).click();
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Get Your Vaccination Certificate');
    assert.ok(await page.getByLabel('NIK (16 digits)').isVisible());
    await screenshot(page, 'portal-start-en');
    await page.getByRole('button', { name: 'Bahasa Indonesia' }).click();
  });

  it('made no request outside the site, and no script error', () => {
    assert.deepEqual(outside, []);
    assert.deepEqual(errors, []);
  });
});
