/**
 * The citizen portal (/) in real Chromium at phone width: NIK + birth date →
 * "code sent to ****-****-*890" → the code, read from the local SMS sink
 * → the person's certificates with their QR codes and PDF; an unknown NIK
 * shows the same "code sent" screen; English by the switch. Screenshots in
 * test-results/screenshots/portal-*.png.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { decodeQrPng } from '../../src/certificates/qr-image.ts';
import { maskNik } from '../../src/domain/masking.ts';
import type { Worker } from '../../src/notify/outbox.ts';
import { bearer, doseBody, person } from '../helpers/app.ts';
import { makeNik } from '../../src/domain/nik.ts';
import { browserSkip, downloaded, launchBrowser, watchedPage, qrOfPdf, recordDose, screenshot, smsCode, startServer, type TestServer } from './helpers.ts';

describe('citizen portal / in Chromium', { skip: browserSkip }, () => {
  let server: TestServer;
  let worker: Worker;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  const outside: string[] = [];
  const errors: string[] = [];
  const p = person({ name: 'Budi Santoso', sex: 'M', birthDate: '1979-11-03', phone: '0812-6666-7890' });
  let dose: Awaited<ReturnType<typeof recordDose>>;

  /** The code sent to a number (the person's by default), once the page says it was sent. */
  const codeFor = (to = '+6281266667890'): Promise<string> => smsCode(server, worker, to, page.getByTestId('code-sent'));

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
    assert.match((await page.getByTestId('code-sent').textContent()) ?? '', /^Kode dikirim ke \*{4}-\*{4}-\*\d{3}\./);
    assert.ok(await page.getByLabel('Kode dari SMS').isVisible());
    await screenshot(page, 'portal-code-sent-unknown');
    // A guessed code reads as a wrong code, with its tries left, as for someone on record.
    await page.getByLabel('Kode dari SMS').fill('123456');
    await page.getByRole('button', { name: 'Buka sertifikat' }).click();
    await page.getByRole('alert').waitFor();
    assert.equal((await page.getByRole('alert').textContent()) ?? '', 'Kode salah — coba lagi (sisa 4 kali).');
    await page.getByRole('button', { name: 'Mulai lagi' }).click();
  });

  it('sends the code to the masked phone on record; the code from the SMS opens the certificate', async () => {
    await page.getByLabel('NIK (16 angka)').fill(p.nik);
    await page.getByLabel('Tanggal lahir').fill(p.birthDate);
    await page.getByRole('button', { name: 'Kirim kode' }).click();
    await page.getByTestId('code-sent').waitFor();
    assert.equal(await page.getByTestId('phone-hint').textContent(), '****-****-*890');
    assert.ok(!(await page.content()).includes('6666'), 'the phone is masked');
    await screenshot(page, 'portal-code-sent');
    await page.getByLabel('Kode dari SMS').fill(await codeFor());
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
    const qr = await qrOfPdf(await downloaded(download));
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

  it('a child without a NIK: the mother’s NIK with the child’s name and birth date; each mistake is named at its field', async () => {
    const mother = makeNik({ province: '31', regency: '71', district: '01', birthDate: '1991-03-04', sex: 'F', serial: 42 });
    const child = { identifier: { type: 'mother-nik', value: mother }, name: 'Siti Rahma', birthDate: '2018-07-15', sex: 'F', phone: '0812-6666-4321' };
    const recorded = await server.rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(dose.facility.token), payload: doseBody(child as never, { date: '2022-01-10' }) });
    assert.equal(recorded.statusCode, 201, recorded.body);
    await worker.drain();
    await page.getByLabel('Identitas').selectOption('mother-nik');
    await page.getByLabel('NIK ibu (16 angka)').fill(mother.slice(0, 10));
    await page.getByRole('button', { name: 'Kirim kode' }).click();
    await page.locator('#mother-nik-error').waitFor();
    assert.equal(await page.locator('#mother-nik-error').textContent(), 'Isi NIK ibu: 16 angka, NIK seorang perempuan.');
    assert.equal(await page.locator('#child-name-error').textContent(), 'Isi nama lengkap anak seperti saat vaksinasi.');
    assert.equal(await page.getByLabel('NIK ibu (16 angka)').getAttribute('aria-invalid'), 'true');
    await screenshot(page, 'portal-start-mother-nik-errors');
    await page.getByLabel('NIK ibu (16 angka)').fill(mother);
    await page.getByLabel('Nama lengkap anak').fill('Siti Rahma');
    await page.getByLabel('Tanggal lahir anak').fill(child.birthDate);
    await page.getByRole('button', { name: 'Kirim kode' }).click();
    await page.getByTestId('code-sent').waitFor();
    assert.equal(await page.getByTestId('phone-hint').textContent(), '****-****-*321');
    await page.getByLabel('Kode dari SMS').fill(await codeFor('+6281266664321'));
    await page.getByRole('button', { name: 'Buka sertifikat' }).click();
    await page.getByTestId('certificate').first().waitFor();
    assert.equal(await page.getByTestId('holder-name').textContent(), 'Siti Rahma');
    await screenshot(page, 'portal-certificates-mother-nik');
    await page.getByRole('button', { name: 'Selesai', exact: true }).click();
  });

  it('a passport holder gives the number and the issuing country; an unknown country is named by the server', async () => {
    const traveller = { identifier: { type: 'passport', value: 'K7654321', country: 'MY' }, name: 'Lim Mei Ling', birthDate: '1988-12-01', sex: 'F', phone: '0812-6666-5432' };
    const recorded = await server.rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(dose.facility.token), payload: doseBody(traveller as never) });
    assert.equal(recorded.statusCode, 201, recorded.body);
    await worker.drain();
    await page.getByLabel('Identitas').selectOption('passport');
    await page.getByLabel('Nomor paspor').fill('K7654321');
    await page.getByLabel('Negara penerbit paspor').fill('QQ');
    await page.getByLabel('Tanggal lahir').fill(traveller.birthDate);
    await page.getByRole('button', { name: 'Kirim kode' }).click();
    await page.locator('#country-error').waitFor();
    assert.equal(await page.locator('#country-error').textContent(), 'Isi kode negara dua atau tiga huruf yang dikenal.');
    await page.getByLabel('Negara penerbit paspor').fill('mys');
    await page.getByRole('button', { name: 'Kirim kode' }).click();
    await page.getByTestId('code-sent').waitFor();
    assert.equal(await page.getByTestId('phone-hint').textContent(), '****-****-*432');
    await page.getByLabel('Kode dari SMS').fill(await codeFor('+6281266665432'));
    await page.getByRole('button', { name: 'Buka sertifikat' }).click();
    await page.getByTestId('certificate').first().waitFor();
    assert.equal(await page.getByTestId('holder-name').textContent(), 'Lim Mei Ling');
    await page.getByRole('button', { name: 'Selesai', exact: true }).click();
  });

  it('made no request outside the site, and no script error', () => {
    assert.deepEqual(outside, []);
    assert.deepEqual(errors, []);
  });
});
