/**
 * The upload page as an operator uses it, in real Chromium on a 360×740
 * phone (issue 17, item 10): template files (CSV and XLSX) with the
 * Indonesian headers, read back by the importer's own reader; the rejected
 * rows listed on the page (line, column and value, reason) in the console's
 * language; errors.csv in the console's language even when the browser asks
 * for another (Chromium here speaks Indonesian, the console is switched to
 * English). Screenshot: test-results/screenshots/console-upload-rejected-rows.png.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Page } from 'playwright-core';
import { mapColumns } from '../../src/records/import/columns.ts';
import { openSheet } from '../../src/records/import/read.ts';
import { fileSource } from '../../src/records/import/source.ts';
import { facilityWithToken, person } from '../helpers/app.ts';
import { browserSkip, launchBrowser, screenshot, startServer, type TestServer } from './helpers.ts';
import { consoleAccount, signInConsole } from './console-helpers.ts';

/** The headers a template must carry: the importer's Indonesian names, as the forms are typed up. */
const TEMPLATE_HEADERS = ['NIK', 'Paspor', 'Negara Paspor', 'NIK Ibu', 'Nama', 'Tanggal Lahir', 'Jenis Kelamin', 'No HP', 'Vaksin', 'Dosis', 'Tanggal Vaksinasi', 'No Batch', 'Kode Faskes'];

describe('console: upload templates and rejected rows in the console’s language, 360×740', { skip: browserSkip }, () => {
  let server: TestServer;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  let file: string;
  let shortNik: string;
  const errors: string[] = [];

  before(async () => {
    server = await startServer();
    const facility = await facilityWithToken(server.db.db, '317101');
    const good = [person(), person()];
    shortNik = person().nik.slice(0, 15);
    const rows = [
      'NIK;Nama;Tanggal Lahir;Jenis Kelamin;No HP;Vaksin;Dosis;Tanggal Vaksinasi;No Batch',
      ...good.map((p) => `${p.nik};${p.name};${p.birthDate};${p.sex === 'M' ? 'L' : 'P'};${p.phone};Sinovac;1;10/06/2021;CV01`),
      // Line 4: a NIK of 15 digits; line 5: an unknown vaccine.
      `${shortNik};Salah Satu;1980-05-17;L;081234567890;Sinovac;1;10/06/2021;CV01`,
      `${person({ birthDate: '1980-05-17', sex: 'M' }).nik};Vaksin Aneh;1980-05-17;L;081234567892;Vaksinasi Ajaib;1;10/06/2021;CV01`,
    ];
    file = join(mkdtempSync(join(tmpdir(), 'dosis-upload-rows-')), 'formulir.csv');
    writeFileSync(file, rows.join('\r\n') + '\r\n');
    browser = await launchBrowser({ viewport: { width: 360, height: 740 } });
    page = await browser.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    const nurse = await consoleAccount(server, 'facility', { facility: facility.code });
    await signInConsole(page, server, nurse.username, undefined, '/console/upload');
    await page.getByRole('heading', { level: 1, name: 'Unggah Berkas' }).waitFor();
  });
  after(async () => {
    await browser?.cleanup();
    await server?.stop();
  });

  const download = async (testId: string): Promise<string> => {
    const [d] = await Promise.all([page.waitForEvent('download'), page.getByTestId(testId).click()]);
    // Saved beside the uploaded file: download.path() has no file when the browser is the run's shared one.
    const path = join(dirname(file), `${testId}-${d.suggestedFilename()}`);
    await d.saveAs(path);
    return path;
  };

  it('offers a CSV template with the Indonesian headers', async () => {
    const csv = readFileSync(await download('template-csv'), 'utf8');
    assert.equal(csv, '\uFEFF' + TEMPLATE_HEADERS.join(';') + '\r\n');
  });

  it('offers an XLSX template that the importer reads, every header a known column', async () => {
    const sheet = await openSheet(await fileSource(await download('template-xlsx')), 'xlsx');
    const rows = [];
    for await (const r of sheet.rows()) rows.push(r.cells);
    assert.deepEqual(rows, [TEMPLATE_HEADERS]);
    assert.deepEqual(mapColumns(TEMPLATE_HEADERS, { facilityGiven: false }).ignored, []);
  });

  it('errors.csv follows the console’s language (English here), not the browser’s (Indonesian)', async () => {
    await page.locator('.lang-switch button[lang=en]').click();
    await page.getByRole('heading', { level: 1, name: 'Upload a File' }).waitFor();
    await page.getByLabel('File (CSV or XLSX)').setInputFiles(file);
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await page.locator('[data-testid=import-status][data-status=done]').waitFor({ timeout: 60_000 });
    assert.equal(await page.getByTestId('import-rejected').textContent(), '2');
    const csv = readFileSync(await download('errors-link'), 'utf8');
    assert.match(csv, /A NIK is exactly 16 digits/);
    assert.doesNotMatch(csv, /NIK harus tepat 16 angka/);
  });

  it('lists the rejected rows on the page: line, column and value, reason in the console’s language', async () => {
    const rows = page.getByTestId('rejected-row');
    await rows.first().waitFor();
    assert.deepEqual(await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-line'))), ['4', '5']);
    const line4 = (await rows.nth(0).textContent()) ?? '';
    assert.match(line4, /^Line 4/);
    assert.match(line4, new RegExp(`NIK “${shortNik}”: A NIK is exactly 16 digits`));
    const line5 = (await rows.nth(1).textContent()) ?? '';
    assert.match(line5, /^Line 5Vaksin “Vaksinasi Ajaib”: Unknown vaccine/);
    await screenshot(page, 'console-upload-rejected-rows');
    // Back in Indonesian, the list follows.
    await page.locator('.lang-switch button[lang=id]').click();
    // The row's label turns at once, its reason when the rows come back in Indonesian: wait for the reason.
    await rows.nth(0).getByText(/NIK harus tepat 16 angka/).waitFor();
    assert.match((await rows.nth(0).textContent()) ?? '', /^Baris 4NIK “\d+”: NIK harus tepat 16 angka/);
  });

  it('raised no script error', () => {
    assert.deepEqual(errors, []);
  });
});
