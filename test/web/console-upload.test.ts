/**
 * Uploading a CSV in the console, in real Chromium at phone width: a file
 * with good and bad rows is recorded (good rows with their certificates),
 * the progress ends with the counts, and the rejected rows come back as
 * errors.csv naming each row's line and reasons; the same file again records
 * nothing twice. Screenshots in test-results/screenshots/console-upload-*.png.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { facilityWithToken, person } from '../helpers/app.ts';
import { browserSkip, downloaded, launchBrowser, screenshot, startServer, type TestServer } from './helpers.ts';
import { consoleAccount, signInConsole } from './console-helpers.ts';

describe('console: upload a CSV with bad rows in Chromium', { skip: browserSkip }, () => {
  let server: TestServer;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  let facility: { code: string };
  let file: string;
  const errors: string[] = [];

  before(async () => {
    server = await startServer();
    facility = await facilityWithToken(server.db.db, '317101');
    const good = Array.from({ length: 6 }, () => person());
    const rows = [
      'NIK;Nama;Tanggal Lahir;Jenis Kelamin;No HP;Vaksin;Dosis;Tanggal Vaksinasi;No Batch',
      ...good.map((p) => `${p.nik};${p.name};${p.birthDate};${p.sex === 'M' ? 'L' : 'P'};${p.phone};Sinovac;1;10/06/2021;CV01`),
      // Line 8: a NIK of 15 digits; line 9: a vaccination date in the future; line 10: an unknown vaccine.
      `317101170580001;Salah Satu;1980-05-17;L;081234567890;Sinovac;1;10/06/2021;CV01`,
      `${person().nik};Masa Depan;1980-05-17;L;081234567891;Sinovac;1;01/01/2099;CV01`,
      `${person().nik};Vaksin Aneh;1980-05-17;L;081234567892;Vaksinasi Ajaib;1;10/06/2021;CV01`,
    ];
    file = join(mkdtempSync(join(tmpdir(), 'dosis-upload-')), 'formulir-puskesmas.csv');
    writeFileSync(file, rows.join('\r\n') + '\r\n');
    browser = await launchBrowser();
    page = await browser.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
  });
  after(async () => {
    await browser?.cleanup();
    await server?.stop();
  });

  it('uploads the file and ends with the counts: 6 recorded, 3 rejected', async () => {
    const nurse = await consoleAccount(server, 'facility', { facility: facility.code });
    await signInConsole(page, server, nurse.username, undefined, '/console/upload');
    await page.getByRole('heading', { level: 1, name: 'Unggah Berkas' }).waitFor();
    await page.getByLabel('Berkas (CSV atau XLSX)').setInputFiles(file);
    await screenshot(page, 'console-upload-form');
    await page.getByRole('button', { name: 'Unggah' }).click();
    await page.locator('[data-testid=import-status][data-status=done]').waitFor({ timeout: 60_000 });
    assert.equal(await page.getByTestId('import-accepted').textContent(), '6');
    assert.equal(await page.getByTestId('import-rejected').textContent(), '3');
    assert.equal(await page.getByTestId('import-already').textContent(), '0');
    const r = await server.db.db.query<{ n: number; certs: number }>(
      `SELECT count(*)::int AS n, count(c.id)::int AS certs FROM vaccinations v
         LEFT JOIN certificates c ON c.person_id = v.person_id AND c.vaccination_id = v.id WHERE v.facility_code = $1`,
      [facility.code],
    );
    assert.deepEqual(r.rows[0], { n: 6, certs: 6 });
    await screenshot(page, 'console-upload-done');
  });

  it('gives the rejected rows as errors.csv, each with its line and reasons', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('errors-link').click()]);
    const csv = (await downloaded(download)).toString('utf8');
    const lines = csv.replace(/^\uFEFF/, '').trim().split(/\r?\n/);
    assert.equal(lines.length, 4, csv);
    assert.match(csv, /Salah Satu/);
    assert.match(csv, /Masa Depan/);
    assert.match(csv, /Vaksinasi Ajaib/);
    assert.match(lines.slice(1).join('\n'), /\b8\b[\s\S]*\b9\b[\s\S]*\b10\b/);
  });

  it('records nothing twice when the same file is uploaded again', async () => {
    await page.getByRole('button', { name: 'Unggah berkas lain' }).click();
    await page.getByLabel('Berkas (CSV atau XLSX)').setInputFiles(file);
    await page.getByRole('button', { name: 'Unggah' }).click();
    await page.locator('[data-testid=import-status][data-status=done]').waitFor({ timeout: 60_000 });
    assert.equal(await page.getByTestId('import-accepted').textContent(), '0');
    assert.equal(await page.getByTestId('import-already').textContent(), '6');
    const r = await server.db.db.query<{ n: number }>('SELECT count(*)::int AS n FROM vaccinations WHERE facility_code = $1', [facility.code]);
    assert.equal(r.rows[0]!.n, 6);
  });

  it('raised no script error', () => {
    assert.deepEqual(errors, []);
  });
});
