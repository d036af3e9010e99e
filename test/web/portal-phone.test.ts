/**
 * Wrong or lost phone in the portal, in real Chromium at phone width: the
 * link on the lookup step → the form (NIK, birth date, name, new number,
 * note) → "code sent to +62 813-****-4321" → the code read from the SMS sink
 * → "your request was sent"; then support approves through the API and the
 * certificate SMS with its link reaches the new number, which opens the
 * certificate page. Screenshots in test-results/screenshots/portal-phone-*.png.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { Worker } from '../../src/notify/outbox.ts';
import { ADMIN_TOKEN, bearer, person, tokenFor } from '../helpers/app.ts';
import { browserSkip, launchBrowser, watchedPage, recordDose, screenshot, startServer, type TestServer } from './helpers.ts';

describe('portal: wrong or lost phone in Chromium', { skip: browserSkip }, () => {
  let server: TestServer;
  let worker: Worker;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  const outside: string[] = [];
  const errors: string[] = [];
  const p = person({ name: 'Siti Nurhaliza', sex: 'F', birthDate: '1985-04-21', phone: '0812-7000-1111' });
  const NEW = '+6281398764321';

  const sinkTo = async (to: string): Promise<string[]> => {
    await worker.drain();
    const r = await server.rt.app.inject({ method: 'GET', url: '/api/v1/sms/sink', headers: bearer(ADMIN_TOKEN) });
    return (r.json().messages as { to: string; text: string }[]).filter((m) => m.to === to).map((m) => m.text);
  };

  before(async () => {
    server = await startServer();
    worker = server.rt.deps.notify.worker({ pollMs: 10 });
    await recordDose(server, { person: p, body: { doseNumber: 1, date: '2021-09-01' } });
    await worker.drain();
    browser = await launchBrowser();
    page = await watchedPage(browser, server.url, outside, errors);
  });
  after(async () => {
    await worker?.stop?.();
    await browser?.cleanup();
    await server?.stop();
  });

  it('links to the form from the lookup step and from the code step; the logo leads home', async () => {
    await page.goto(server.url + '/');
    await page.getByLabel('NIK (16 angka)').waitFor();
    assert.equal(await page.locator('a.brand').getAttribute('href'), '/');
    assert.equal(await page.getByTestId('phone-change-link').textContent(), 'Nomor HP salah / hilang?');
    // The code step has the link too (someone whose code never comes).
    await page.getByLabel('NIK (16 angka)').fill(p.nik);
    await page.getByLabel('Tanggal lahir').fill(p.birthDate);
    await page.getByRole('button', { name: 'Kirim kode' }).click();
    await page.getByTestId('code-sent').waitFor();
    await page.getByTestId('phone-change-link').click();
    await page.getByRole('heading', { name: 'Nomor HP salah atau hilang' }).waitFor();
    assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 360, 'fits a 360-px phone');
    await screenshot(page, 'portal-phone-form-id');
  });

  it('checks the form in the browser and names the fields at fault', async () => {
    await page.getByLabel('NIK (16 angka)').fill('1234');
    await page.getByRole('button', { name: 'Kirim kode ke nomor baru' }).click();
    assert.equal(await page.getByLabel('NIK (16 angka)').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.getByLabel('Nama lengkap sesuai KTP').getAttribute('aria-invalid'), 'true');
    assert.ok(await page.getByText('NIK terdiri dari 16 angka.').isVisible());
    await screenshot(page, 'portal-phone-form-errors');
    // A landline passes the browser's check; the server names the field and the form marks it.
    await page.getByLabel('NIK (16 angka)').fill(p.nik);
    await page.getByLabel('Tanggal lahir').fill(p.birthDate);
    await page.getByLabel('Nama lengkap sesuai KTP').fill(p.name);
    await page.getByLabel('Nomor HP baru').fill('021-555-1234');
    await page.getByRole('button', { name: 'Kirim kode ke nomor baru' }).click();
    await page.getByText('Isi nomor HP yang dapat menerima SMS, misalnya 0812 3456 7890.').waitFor();
    assert.equal(await page.getByLabel('Nomor HP baru').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.getByLabel('NIK (16 angka)').getAttribute('aria-invalid'), 'false');
  });

  it('asks a child without a NIK for the mother’s NIK and the child’s name; a passport’s unknown country is named by the server', async () => {
    await page.getByLabel('Identitas').selectOption('mother-nik');
    await page.getByLabel('Nama lengkap anak').fill('');
    await page.getByRole('button', { name: 'Kirim kode ke nomor baru' }).click();
    assert.equal(await page.getByLabel('NIK ibu (16 angka)').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.getByLabel('Nama lengkap anak').getAttribute('aria-invalid'), 'true');
    assert.ok(await page.getByLabel('Tanggal lahir anak').isVisible());
    await screenshot(page, 'portal-phone-form-mother-nik');
    await page.getByLabel('Identitas').selectOption('passport');
    await page.getByLabel('Nomor paspor').fill('X1234567');
    await page.getByLabel('Negara penerbit paspor').fill('QQ');
    await page.getByLabel('Tanggal lahir').fill('1980-01-01');
    await page.getByLabel('Nama lengkap sesuai KTP').fill('Tan Wei Ming');
    await page.getByLabel('Nomor HP baru').fill('0813-1111-0000');
    await page.getByRole('button', { name: 'Kirim kode ke nomor baru' }).click();
    await page.getByText('Isi kode negara dua atau tiga huruf yang dikenal.').waitFor();
    assert.equal(await page.getByLabel('Negara penerbit paspor').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.getByLabel('Nomor paspor').getAttribute('aria-invalid'), 'false');
    await page.getByLabel('Identitas').selectOption('nik');
  });

  it('sends a code to the new number; the code from the SMS files the request', async () => {
    await page.getByLabel('NIK (16 angka)').fill(p.nik);
    await page.getByLabel('Tanggal lahir').fill(p.birthDate);
    await page.getByLabel('Nama lengkap sesuai KTP').fill('Siti Nurhalizah');
    await page.getByLabel('Nomor HP baru').fill('0813-9876-4321');
    await page.getByLabel('Catatan (tidak wajib)').fill('HP lama hilang');
    await page.getByRole('button', { name: 'Kirim kode ke nomor baru' }).click();
    await page.getByTestId('phone-code-sent').waitFor();
    assert.match((await page.getByTestId('phone-code-sent').textContent()) ?? '', /Kode dikirim ke \+62 813-\*\*\*\*-4321\./);
    await screenshot(page, 'portal-phone-code');

    const texts = await sinkTo(NEW);
    assert.equal(texts.length, 1);
    const code = /\b(\d{6})\b/.exec(texts[0]!)?.[1];
    assert.ok(code, texts[0]);
    await page.getByLabel('Kode dari SMS').fill(code === '000000' ? '111111' : '000000');
    await page.getByRole('button', { name: 'Kirim permintaan' }).click();
    await page.getByRole('alert').waitFor();
    assert.match((await page.getByRole('alert').textContent()) ?? '', /Kode salah\. Sisa 4 kali percobaan\./);
    await page.getByLabel('Kode dari SMS').fill(code);
    await page.getByRole('button', { name: 'Kirim permintaan' }).click();
    await page.getByTestId('phone-change-done').waitFor();
    assert.equal(await page.getByRole('heading', { level: 2 }).textContent(), 'Permintaan Anda sudah dikirim');
    assert.match((await page.getByTestId('phone-change-done').textContent()) ?? '', /SMS di \+62 813-\*\*\*\*-4321 setelah permintaan diputuskan/);
    await screenshot(page, 'portal-phone-sent-id');
    await page.getByRole('button', { name: 'English' }).click();
    assert.equal(await page.getByRole('heading', { level: 2 }).textContent(), 'Your request was sent');
    await screenshot(page, 'portal-phone-sent-en');
    await page.getByRole('button', { name: 'Bahasa Indonesia' }).click();
  });

  it('support approves through the API; the certificate SMS reaches the new number and opens the certificate', async () => {
    const support = await tokenFor(server.db.db, 'support');
    const list = await server.rt.app.inject({ url: '/api/v1/phone-corrections?status=open', headers: bearer(support) });
    const item = (list.json().items as { id: string; entered: { nik: string; note: string }; match: { personId: string | null; nameScore: number } }[]).find((x) => x.entered.nik === p.nik);
    assert.ok(item, list.body);
    assert.equal(item.entered.note, 'HP lama hilang');
    assert.ok(item.match.personId);
    assert.equal(item.match.nameScore, 0.9, 'Nurhalizah / Nurhaliza: the same name');
    assert.equal((await sinkTo(NEW)).length, 1, 'nothing but the code before approval');

    const yes = await server.rt.app.inject({ method: 'POST', url: `/api/v1/phone-corrections/${item.id}/approve`, headers: bearer(support) });
    assert.equal(yes.statusCode, 200, yes.body);
    const texts = await sinkTo(NEW);
    assert.equal(texts.length, 2, texts.join('\n'));
    assert.match(texts[1]!, /Siti N\./);
    const link = /(\/c\/[A-Za-z0-9_-]+)/.exec(texts[1]!)?.[1];
    assert.ok(link, texts[1]);
    await page.goto(server.url + link);
    await page.getByTestId('certificate').first().waitFor();
    assert.equal(await page.getByTestId('holder-name').textContent(), 'Siti Nurhaliza');
    await screenshot(page, 'portal-phone-approved-certificate');
  });

  it('made no request outside the site, and no script error', () => {
    assert.deepEqual(outside, []);
    assert.deepEqual(errors, []);
  });
});
