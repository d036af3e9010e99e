/**
 * The record form as an operator entering a day's doses uses it, in real
 * Chromium on a 360×740 phone (issue 17, items 6–9):
 * - a person without a NIK: by passport (with its country) and by the
 *   mother's NIK (the child's name), with the portal's identity choice; an
 *   empty identity is explained in words, never as `person.identifier`;
 * - the next person: after "Catat dosis berikutnya" the NIK input is on
 *   screen and focused (typing goes straight into it), vaccine, dose, date
 *   and batch kept;
 * - the doses on record named (number, date, vaccine) as soon as the NIK is
 *   known, a warning before saving a dose number already on record, and the
 *   refusal in words with links to the certificate and the person (no id);
 *   `GET /api/v1/people/{id}/doses` answers within the search's scope only,
 *   and a certificate link only for the facility that recorded that dose;
 * - a digit-run phone: warned beside the field before saving, and the SMS
 *   held for that reason (not "a number shared by many people").
 * The screenshot of the form after "next person" is test-results/screenshots/
 * console-record-next-person.png (and /work/screens/ when that exists).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { makeNik } from '../../src/domain/nik.ts';
import type { Worker } from '../../src/notify/outbox.ts';
import { bearer, facilityWithToken, person } from '../helpers/app.ts';
import { browserSkip, launchBrowser, recordDose, SCREENSHOTS, startServer, type TestServer } from './helpers.ts';
import { consoleAccount, signInConsole } from './console-helpers.ts';

const VIEWPORT = { width: 360, height: 740 };

describe('console: the record form as an operator uses it, 360×740', { skip: browserSkip }, () => {
  let server: TestServer;
  let worker: Worker;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  let facility: { code: string; token: string };
  const errors: string[] = [];

  before(async () => {
    server = await startServer();
    worker = server.rt.deps.notify.worker({ pollMs: 10 }).start();
    facility = await facilityWithToken(server.db.db, '317101');
    browser = await launchBrowser({ viewport: VIEWPORT });
    page = await browser.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    const nurse = await consoleAccount(server, 'facility', { facility: facility.code }, 'Bidan Sari');
    await signInConsole(page, server, nurse.username, undefined, '/console/record');
    await page.getByRole('heading', { level: 1, name: 'Catat Dosis' }).waitFor();
  });
  after(async () => {
    await worker?.stop();
    await browser?.cleanup();
    await server?.stop();
  });

  const fillDose = async (vaccine: string, date: string, lot = 'B-01'): Promise<void> => {
    await page.getByLabel('Vaksin', { exact: true }).selectOption(vaccine);
    await page.getByLabel('Tanggal vaksinasi').fill(date);
    await page.getByLabel('Nomor batch').fill(lot);
  };
  const fresh = async (): Promise<void> => {
    await page.goto(server.url + '/console/record');
    await page.getByTestId('submit-dose').waitFor();
  };
  const next = async (): Promise<void> => {
    await page.getByRole('button', { name: 'Catat dosis berikutnya' }).click();
    await page.getByTestId('submit-dose').waitFor();
  };

  it('6: an empty identity is explained in words; a person is recorded by passport and a child by the mother’s NIK', async () => {
    await page.getByTestId('submit-dose').click();
    const empty = (await page.getByTestId('error-nik').textContent()) ?? '';
    assert.doesNotMatch(empty, /person\.|identifier/);
    assert.match(empty, /Paspor.*NIK ibu/);

    // A foreigner: passport and its country (alpha-3 typed, alpha-2 stored).
    await page.getByLabel('Identitas', { exact: true }).selectOption('passport');
    await page.getByLabel('Nomor paspor').fill('K1234567');
    await page.getByLabel('Negara penerbit paspor').fill('XX');
    await page.getByLabel('Negara penerbit paspor').blur();
    assert.match((await page.getByTestId('error-country').textContent()) ?? '', /kode ISO 3166/);
    await page.getByLabel('Negara penerbit paspor').fill('SGP');
    await page.getByTestId('error-country').waitFor({ state: 'detached' });
    await page.getByLabel('Nama lengkap').fill('Tan Wei Ming');
    await page.getByLabel('Tanggal lahir').fill('1985-03-04');
    await page.getByText('Laki-laki').click();
    await fillDose('COMIRNATY', '2022-01-05');
    await page.getByTestId('submit-dose').click();
    await page.getByTestId('dose-result').waitFor();
    const passport = await server.db.db.query('SELECT id_type, id_value, id_country FROM people WHERE name = $1', ['Tan Wei Ming']);
    assert.deepEqual(passport.rows, [{ id_type: 'passport', id_value: 'K1234567', id_country: 'SG' }]);

    // A child without a NIK: the mother's NIK (a woman's), the child's own name and birth date.
    await next();
    await page.getByLabel('Identitas', { exact: true }).selectOption('mother-nik');
    const father = makeNik({ province: '31', regency: '71', district: '01', birthDate: '1980-02-03', sex: 'M', serial: 41 });
    await page.getByLabel('NIK ibu (16 angka)').fill(father);
    await page.getByLabel('NIK ibu (16 angka)').blur();
    assert.match((await page.getByTestId('error-motherNik').textContent()) ?? '', /NIK ibu/);
    const mother = makeNik({ province: '31', regency: '71', district: '01', birthDate: '1980-02-03', sex: 'F', serial: 42 });
    await page.getByLabel('NIK ibu (16 angka)').fill(mother);
    await page.getByTestId('error-motherNik').waitFor({ state: 'detached' });
    await page.getByLabel('Nama lengkap anak').fill('Putri Ayu');
    await page.getByLabel('Tanggal lahir').fill('2008-03-01');
    await page.getByText('Perempuan').click();
    await page.getByTestId('submit-dose').click();
    await page.getByTestId('dose-result').waitFor();
    const child = await server.db.db.query('SELECT id_type, id_value, name FROM people WHERE name = $1', ['Putri Ayu']);
    assert.deepEqual(child.rows, [{ id_type: 'mother-nik', id_value: mother, name: 'Putri Ayu' }]);
  });

  it('7: after "Catat dosis berikutnya" the NIK input is on screen and focused; vaccine, dose, date and batch are kept', async () => {
    await fresh();
    const first = person({ sex: 'F', name: 'Siti Aminah', phone: '0813-4444-5555' });
    await page.getByLabel('NIK').fill(first.nik);
    await page.getByLabel('Nama lengkap').fill(first.name);
    await page.getByText('Tanggal lahir dan jenis kelamin diisi dari NIK').waitFor();
    await page.getByLabel('Nomor HP').fill(first.phone);
    await fillDose('COMIRNATY', '2022-01-05');
    await page.getByTestId('submit-dose').click();
    await page.getByTestId('dose-result').waitFor();
    // The result (QR, facts, SMS) is taller than the screen: the button is reached by scrolling.
    await page.getByRole('button', { name: 'Catat dosis berikutnya' }).scrollIntoViewIfNeeded();
    assert.ok((await page.evaluate(() => window.scrollY)) > 0, 'the result page is scrolled to reach the button');
    await next();
    await page.waitForFunction(() => document.activeElement?.id === 'f-nik', null, { timeout: 5000 }).catch(() => undefined);
    assert.equal(await page.evaluate(() => document.activeElement?.id ?? ''), 'f-nik', 'the NIK input has the focus');
    const box = await page.locator('#f-nik').boundingBox();
    assert.ok(box && box.y >= 0 && box.y + box.height <= VIEWPORT.height, `NIK input on screen: ${JSON.stringify(box)}`);
    mkdirSync(SCREENSHOTS, { recursive: true });
    const shot = (name: string): Promise<Buffer> => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
    await shot('console-record-next-person');
    // No tap: the keyboard goes straight into the NIK.
    const p = person({ sex: 'M', name: 'Joko Widodo', phone: '0813-2222-3333' });
    await page.keyboard.type(p.nik);
    assert.equal(await page.locator('#f-nik').inputValue(), p.nik);
    await shot('console-record-next-person-typed');
    if (existsSync('/work/screens')) {
      copyFileSync(join(SCREENSHOTS, 'console-record-next-person.png'), '/work/screens/record-next-person-360x740.png');
      copyFileSync(join(SCREENSHOTS, 'console-record-next-person-typed.png'), '/work/screens/record-next-person-typed-360x740.png');
    }
    assert.equal(await page.getByLabel('Vaksin', { exact: true }).inputValue(), 'COMIRNATY');
    assert.equal(await page.getByLabel('Dosis ke-').inputValue(), '1');
    assert.equal(await page.getByLabel('Tanggal vaksinasi').inputValue(), '2022-01-05');
    assert.equal(await page.getByLabel('Nomor batch').inputValue(), 'B-01');
  });

  it('8: names the doses on record once the NIK is typed, warns before saving one again, and refuses in words with links', async () => {
    const known = person({ name: 'Dewi Lestari', sex: 'F', birthDate: '1990-02-03', phone: '0813-1111-2222' });
    const first = await recordDose(server, { person: known, facility, body: { doseNumber: 1, date: '2021-07-01', vaccine: 'VAXZEVRIA' } });
    await fresh();
    await page.getByLabel('NIK').fill(known.nik);
    await page.getByTestId('doses-on-record').waitFor();
    assert.equal(((await page.getByTestId('doses-on-record').textContent()) ?? '').trim(), 'Dosis ke-1 · 1 Juli 2021 · Vaxzevria');
    // The pre-fill proposes dose 2; choosing dose 1 again is warned before saving.
    assert.equal(await page.getByLabel('Dosis ke-').inputValue(), '2');
    await page.getByLabel('Dosis ke-').selectOption('1');
    assert.match((await page.getByTestId('duplicate-warning').textContent()) ?? '', /Dosis ke-1 orang ini sudah tercatat \(1 Juli 2021, Vaxzevria\)/);
    await fillDose('VAXZEVRIA', '2021-07-01');
    await page.getByTestId('submit-dose').click();
    const refusal = page.getByTestId('refused-duplicate');
    await refusal.waitFor();
    assert.match((await refusal.textContent()) ?? '', /Tidak disimpan: dosis ke-1 orang ini sudah tercatat \(1 Juli 2021, Vaxzevria\)/);
    await page.getByTestId('refused-certificate').waitFor();
    assert.equal(await page.getByTestId('refused-certificate').getAttribute('href'), first.certificate.link);
    assert.equal(await page.getByTestId('refused-person').getAttribute('href'), `/console/people/${first.person.id}`);
    const notice = (await page.locator('.notice', { has: refusal }).textContent()) ?? '';
    assert.doesNotMatch(notice, /[0-9a-f]{8}-[0-9a-f]{4}-/);
    await page.getByTestId('refused-person').click();
    await page.waitForURL(`**/console/people/${first.person.id}`);
  });

  it('8: the doses behind the pre-fill answer within the search’s scope, with a certificate link only for the recording facility', async () => {
    const known = person({ name: 'Sri Wahyuni', sex: 'F' });
    const first = await recordDose(server, { person: known, facility, body: { doseNumber: 1, date: '2021-07-01', vaccine: 'VAXZEVRIA' } });
    const other = await facilityWithToken(server.db.db, '317102');
    const far = await facilityWithToken(server.db.db, '327301');
    const doses = (token: string) => server.rt.app.inject({ method: 'GET', url: `/api/v1/people/${first.person.id}/doses`, headers: bearer(token) });
    // A facility that never vaccinated her sees nothing (as its search finds nothing).
    assert.equal((await doses(other.token)).statusCode, 404);
    const search = await server.rt.app.inject({ method: 'GET', url: `/api/v1/people?nik=${known.nik}`, headers: bearer(other.token) });
    assert.deepEqual(search.json().people, []);
    // Once it gives her dose 2 it sees both doses, but the link only of the one it recorded.
    await recordDose(server, { person: known, facility: other, body: { doseNumber: 2, date: '2021-09-01', vaccine: 'VAXZEVRIA' } });
    const seen = (await doses(other.token)).json().doses as { doseNumber: number; certificateLink: string | null; ownFacility: boolean }[];
    assert.deepEqual(
      seen.map((d) => [d.doseNumber, d.ownFacility, d.certificateLink === null]),
      [
        [1, false, true],
        [2, true, false],
      ],
    );
    assert.equal((await doses(far.token)).statusCode, 404);
    assert.equal((await server.rt.app.inject({ method: 'GET', url: '/api/v1/people/not-a-uuid/doses', headers: bearer(facility.token) })).statusCode, 404);
  });

  it('9: a digit-run number is warned beside the phone field before saving, and its SMS is held for that reason', async () => {
    const p = person({ sex: 'F', name: 'Ani Yudhoyono' });
    await fresh();
    await page.getByLabel('NIK').fill(p.nik);
    await page.getByTestId('lookup').getByText('Belum ada catatan').waitFor();
    await page.getByLabel('Nama lengkap').fill(p.name);
    await page.getByLabel('Nomor HP').fill('0812-3456-7890');
    const warn = page.getByTestId('warn-phone');
    await warn.waitFor();
    assert.match((await warn.textContent()) ?? '', /angka berulang atau berurutan/);
    assert.equal(await page.getByTestId('error-phone').count(), 0);
    await page.getByLabel('Nomor HP').fill('0812-7777-1234');
    await warn.waitFor({ state: 'detached' });
    await page.getByLabel('Nomor HP').fill('0812-3456-7890');
    await fillDose('CORONAVAC', '2021-06-10');
    await page.getByTestId('submit-dose').click();
    await page.getByTestId('dose-result').waitFor();
    const sms = page.locator('[data-testid=sms-status][data-status=held]');
    await sms.waitFor({ timeout: 30_000 });
    const text = (await sms.textContent()) ?? '';
    assert.match(text, /asal diisi \(angka berulang atau berurutan\)/);
    assert.doesNotMatch(text, /dipakai banyak orang/);
    assert.equal(await sms.getAttribute('data-reasons'), 'placeholder');
  });

  it('raised no script error', () => {
    assert.deepEqual(errors, []);
  });
});
