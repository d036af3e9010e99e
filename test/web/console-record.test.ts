/**
 * Recording a dose in the console, in real Chromium at phone width: the
 * API's own rules as the nurse types (a NIK that does not match the birth
 * date, a landline), the person found by NIK and pre-filled, then the
 * certificate (its QR decodes to the HC1 the server signed) and the SMS
 * state. A district account records for a facility of its region. The one
 * browser file whose server runs on PGlite (the others: SERVER_BACKEND).
 * Screenshots in test-results/screenshots/console-record-*.png.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { decodeQrPng } from '../../src/certificates/qr-image.ts';
import { makeNik } from '../../src/domain/nik.ts';
import { hc1OfStored } from '../../src/certificates/hc1.ts';
import type { Worker } from '../../src/notify/outbox.ts';
import { facilityWithToken, person } from '../helpers/app.ts';
import { browserSkip, launchBrowser, recordDose, screenshot, startServer, type TestServer } from './helpers.ts';
import { consoleAccount, signInConsole } from './console-helpers.ts';

describe('console: record a dose in Chromium', { skip: browserSkip }, () => {
  let server: TestServer;
  let worker: Worker;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  let facility: { code: string; token: string };
  const errors: string[] = [];

  before(async () => {
    // On PGlite: the embedded default (`npm start`) under the pages, its one connection shared by the pages' requests and a running worker.
    server = await startServer({}, { backend: 'pglite' });
    worker = server.rt.deps.notify.worker({ pollMs: 10 }).start();
    facility = await facilityWithToken(server.db.db, '317101');
    browser = await launchBrowser();
    page = await browser.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
  });
  after(async () => {
    await worker?.stop();
    await browser?.cleanup();
    await server?.stop();
  });

  it('checks the fields as they are typed, with the API’s rules', async () => {
    const nurse = await consoleAccount(server, 'facility', { facility: facility.code }, 'Bidan Rina');
    await signInConsole(page, server, nurse.username, undefined, '/console/record');
    await page.getByRole('heading', { level: 1, name: 'Catat Dosis' }).waitFor();
    // A man's NIK born 1980-05-17, with a different birth date typed: the NIK rule speaks at once.
    const nik = makeNik({ province: '31', regency: '71', district: '01', birthDate: '1980-05-17', sex: 'M', serial: 77 });
    await page.getByLabel('NIK').fill(nik);
    await page.getByLabel('Nama lengkap').fill('Agus Salim');
    await page.getByLabel('Tanggal lahir').fill('1981-05-17');
    await page.getByLabel('Tanggal lahir').blur();
    await page.getByLabel('NIK').blur();
    await page.getByTestId('error-nik').waitFor();
    assert.match((await page.getByTestId('error-nik').textContent()) ?? '', /NIK memuat tanggal lahir 17-05-\.\.80/);
    await page.getByLabel('Tanggal lahir').fill('1980-05-17');
    await page.getByTestId('error-nik').waitFor({ state: 'detached' });
    // A landline is refused for SMS, as by the server.
    await page.getByLabel('Nomor HP').fill('021-5550123');
    await page.getByLabel('Nomor HP').blur();
    await page.getByTestId('error-phone').waitFor();
    await screenshot(page, 'console-record-validation');
    // Submitting with problems sends nothing.
    await page.getByTestId('submit-dose').click();
    await page.getByText('Periksa isian yang ditandai.').waitFor();
    const n = await server.db.db.query<{ n: number }>('SELECT count(*)::int AS n FROM vaccinations');
    assert.equal(n.rows[0]!.n, 0);
  });

  it('records the dose and shows its certificate and SMS', async () => {
    await page.getByLabel('Nomor HP').fill('0812-7777-1234');
    await page.getByText('Laki-laki').click();
    await page.getByLabel('Vaksin', { exact: true }).selectOption('CORONAVAC');
    await page.getByLabel('Tanggal vaksinasi').fill('2021-06-10');
    await page.getByLabel('Nomor batch').fill('cv2106');
    await page.getByTestId('submit-dose').click();
    await page.getByTestId('dose-result').waitFor();
    const uvci = (await page.getByTestId('uvci').textContent()) ?? '';
    assert.match(uvci, /^URN:UVCI:01:ID:/);
    const row = await server.db.db.query<{ qr: string | null; hc1: Uint8Array | null; source: string; recorded_by: string }>(
      'SELECT c.qr, c.hc1, v.source, v.recorded_by::text FROM certificates c JOIN vaccinations v ON v.person_id = c.person_id AND v.id = c.vaccination_id WHERE c.uvci = $1',
      [uvci],
    );
    assert.equal(row.rowCount, 1);
    // The QR on screen is the certificate the server signed.
    const qr = await page.locator('[data-testid=dose-result] svg.qr').screenshot();
    assert.equal(await decodeQrPng(qr), hc1OfStored(row.rows[0]!));
    await page.locator('[data-testid=sms-status][data-status=delivered], [data-testid=sms-status][data-status=submitted]').waitFor();
    assert.match((await page.getByTestId('sms-status').textContent()) ?? '', /\+62 812-\*\*\*\*-1234/);
    await screenshot(page, 'console-record-certificate');
  });

  it('finds a known person by NIK and pre-fills them; a later dose without the earlier one is flagged', async () => {
    const known = person({ name: 'Dewi Lestari', sex: 'F', birthDate: '1990-02-03', phone: '0813-1111-2222' });
    await recordDose(server, { person: known, facility, body: { doseNumber: 1, date: '2021-07-01', vaccine: 'VAXZEVRIA' } });
    await page.getByRole('button', { name: 'Catat dosis berikutnya' }).click();
    await page.getByLabel('NIK').fill(known.nik);
    await page.getByTestId('lookup').getByText(/Sudah terdaftar: Dewi Lestari, 1 dosis tercatat/).waitFor();
    assert.equal(await page.getByLabel('Nama lengkap').inputValue(), 'Dewi Lestari');
    assert.equal(await page.getByLabel('Tanggal lahir').inputValue(), '1990-02-03');
    assert.equal(await page.getByLabel('Dosis ke-').inputValue(), '2');
    await page.getByLabel('Dosis ke-').selectOption('3');
    await page.getByTestId('prior-missing').waitFor();
    await screenshot(page, 'console-record-known-person');
  });

  it('lets a district account record for a facility of its region', async () => {
    const other = await facilityWithToken(server.db.db, '317102');
    const district = await consoleAccount(server, 'district', { region: '3171' }, 'Dinkes Jakarta Pusat');
    await page.getByTestId('sign-out').click();
    await signInConsole(page, server, district.username, undefined, '/console/record');
    const p = person({ sex: 'F' });
    await page.getByLabel('Fasilitas kesehatan', { exact: true }).selectOption(other.code);
    await page.getByLabel('NIK').fill(p.nik);
    await page.getByLabel('Nama lengkap').fill('Rina Wati');
    // Offline-safe pre-fill from the NIK when the person is unknown.
    await page.getByText('Tanggal lahir dan jenis kelamin diisi dari NIK').waitFor();
    assert.equal(await page.getByLabel('Tanggal lahir').inputValue(), p.birthDate);
    await page.getByLabel('Vaksin', { exact: true }).selectOption('COMIRNATY');
    await page.getByLabel('Tanggal vaksinasi').fill('2022-01-05');
    await page.getByTestId('submit-dose').click();
    await page.getByTestId('dose-result').waitFor();
    const r = await server.db.db.query<{ facility_code: string }>('SELECT facility_code FROM vaccinations v JOIN people p ON p.id = v.person_id WHERE p.id_value = $1', [p.nik]);
    assert.deepEqual(r.rows, [{ facility_code: other.code }]);
  });

  it('raised no script error', () => {
    assert.deepEqual(errors, []);
  });
});
