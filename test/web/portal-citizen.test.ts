/**
 * The citizen on a 360×740 phone (issue 17, items 11 and 13): a wrong code
 * says how many tries remain and the same code still works (no new lookup,
 * which would spend one of the hour's three); "Dosis saya tidak tercatat" is
 * on the first screen, above the certificates, and its facility is one
 * searchable field. Screenshots in test-results/screenshots/citizen-*.png.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { Worker } from '../../src/notify/outbox.ts';
import { bearer, facilityWithToken, person } from '../helpers/app.ts';
import { PHONE_740, browserSkip, launchBrowser, recordDose, screenshot, smsCode, startServer, watchedPage, type TestServer } from './helpers.ts';

describe('the citizen on a 360×740 phone', { skip: browserSkip }, () => {
  let server: TestServer;
  let worker: Worker;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  const outside: string[] = [];
  const errors: string[] = [];
  const p = person({ name: 'Rina Wulandari', sex: 'F', birthDate: '1990-02-14', phone: '0812-7777-5566' });
  let facility: { code: string; token: string };
  const PHONE = '+6281277775566';

  const lookups = async (): Promise<number> => Number((await server.db.db.query<{ n: string }>('SELECT count(*) AS n FROM portal_lookups')).rows[0]?.n);

  before(async () => {
    server = await startServer();
    worker = server.rt.deps.notify.worker({ pollMs: 10 });
    facility = await facilityWithToken(server.db.db);
    await facilityWithToken(server.db.db);
    // Three doses: the certificates are long on a phone.
    await recordDose(server, { person: p, facility, body: { doseNumber: 1, date: '2021-08-02' } });
    await recordDose(server, { person: p, facility, body: { doseNumber: 2, date: '2021-09-01' } });
    await recordDose(server, { person: p, facility, body: { doseNumber: 3, date: '2022-03-01' } });
    await worker.drain();
    browser = await launchBrowser({ viewport: PHONE_740 });
    page = await watchedPage(browser, server.url, outside, errors);
  });
  after(async () => {
    await worker?.stop?.();
    await browser?.cleanup();
    await server?.stop();
  });

  it('a wrong code says "Kode salah — coba lagi (sisa N kali)" and the same code still opens the certificates (item 11)', async () => {
    await page.goto(server.url + '/');
    await page.getByLabel('NIK (16 angka)').fill(p.nik);
    await page.getByLabel('Tanggal lahir').fill(p.birthDate);
    await page.getByRole('button', { name: 'Kirim kode' }).click();
    const code = await smsCode(server, worker, PHONE, page.getByTestId('code-sent'));
    const wrong = code === '000000' ? '111111' : '000000';
    const field = page.locator('#code');

    await field.fill(wrong);
    await page.getByRole('button', { name: 'Buka sertifikat' }).click();
    await page.getByRole('alert').waitFor();
    assert.equal(await page.getByRole('alert').textContent(), 'Kode salah — coba lagi (sisa 4 kali).');
    assert.doesNotMatch((await page.getByRole('alert').textContent()) ?? '', /pencarian baru/);
    // Ready for the next try: the field empty, focused and marked.
    assert.equal(await field.inputValue(), '');
    assert.ok(await field.evaluate((e) => e === document.activeElement));
    assert.equal(await field.getAttribute('aria-invalid'), 'true');
    await screenshot(page, 'citizen-wrong-code-id');

    await page.getByRole('button', { name: 'English' }).click();
    await field.fill(wrong);
    await page.getByRole('button', { name: 'Open certificates' }).click();
    await page.getByText('Wrong code — try again (3 left).').waitFor();
    await screenshot(page, 'citizen-wrong-code-en');
    await page.getByRole('button', { name: 'Bahasa Indonesia' }).click();

    await field.fill(code);
    await page.getByRole('button', { name: 'Buka sertifikat' }).click();
    await page.getByTestId('certificate').first().waitFor();
    assert.equal(await lookups(), 1, 'one lookup spent, not one per wrong code');
  });

  /** Opens the certificates with the right code (when the test before left them closed). */
  const openCertificates = async (): Promise<void> => {
    if ((await page.getByTestId('certificate').count()) > 0) return;
    await page.goto(server.url + '/');
    await page.getByLabel('NIK (16 angka)').fill(p.nik);
    await page.getByLabel('Tanggal lahir').fill(p.birthDate);
    await page.getByRole('button', { name: 'Kirim kode' }).click();
    await page.locator('#code').fill(await smsCode(server, worker, PHONE, page.getByTestId('code-sent')));
    await page.getByRole('button', { name: 'Buka sertifikat' }).click();
    await page.getByTestId('certificate').first().waitFor();
  };

  it('"Dosis saya tidak tercatat" is on the first screen, above the certificates (item 13)', async () => {
    await openCertificates();
    const button = page.getByRole('button', { name: 'Dosis saya tidak tercatat' });
    const box = await button.boundingBox();
    const first = await page.getByTestId('certificate').first().boundingBox();
    assert.ok(box && first, 'both on the page');
    assert.ok(box.y + box.height <= PHONE_740.height, `within the first 740 px without scrolling: at ${box.y}`);
    assert.ok(box.y < first.y, 'above the certificates');
    assert.ok((await page.evaluate(() => document.documentElement.scrollHeight)) > 2 * PHONE_740.height, 'the certificates are long');
    await screenshot(page, 'citizen-certificates-top');
  });

  it('its facility is one searchable field: type, pick from the matches, send (item 13)', async () => {
    await page.getByRole('button', { name: 'Dosis saya tidak tercatat' }).click();
    await page.getByRole('heading', { name: 'Laporkan dosis yang tidak tercatat' }).waitFor();
    assert.equal(await page.locator('#md-form select#md-facility, #md-form input[type="search"]').count(), 0, 'no search box beside a select');
    const combo = page.getByRole('combobox', { name: 'Faskes tempat vaksinasi' });
    await combo.fill('Puskes');
    await page.getByRole('option').first().waitFor();
    assert.equal(await combo.getAttribute('aria-expanded'), 'true');
    assert.ok((await page.getByRole('option').count()) >= 2, 'both facilities match');
    await screenshot(page, 'citizen-facility-combobox');
    // Narrow by code, pick with the keyboard.
    await combo.fill(facility.code);
    await page.getByRole('option', { name: new RegExp(`\\(${facility.code}\\)$`) }).waitFor();
    await combo.press('ArrowDown');
    await combo.press('ArrowUp');
    await combo.press('Enter');
    assert.match(await combo.inputValue(), new RegExp(`^Puskesmas \\d+ \\(${facility.code}\\)$`));
    assert.equal(await combo.getAttribute('aria-expanded'), 'false');
    await page.getByLabel('Tanggal vaksinasi').fill('2022-09-01');
    await page.getByLabel(/^Vaksin\b/).selectOption('CORONAVAC');
    await page.getByLabel('Dosis ke').selectOption('4');
    await page.getByRole('button', { name: 'Kirim laporan' }).click();
    await page.getByTestId('dose-request').first().waitFor();
    const list = await server.rt.app.inject({ method: 'GET', url: '/api/v1/dose-requests?status=open', headers: bearer(facility.token) });
    assert.equal(list.statusCode, 200, list.body);
    assert.equal((list.json().requests as { doseNumber: number }[]).filter((r) => r.doseNumber === 4).length, 1, 'the report reached the picked facility');
    assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= PHONE_740.width);
    assert.deepEqual(errors, []);
    assert.deepEqual(outside, []);
  });
});
