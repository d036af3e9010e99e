/**
 * Region codes in the console at 360×740 (issue 17 item 17): an admin types a
 * district's region as Kemendagri writes it (`12.71`), the account is made and
 * listed as `12.71`; the district signs in and sees "Wilayah 12.71"; its
 * search shows a person's region dotted (`12.71.01`). Screenshots in
 * test-results/screenshots/console-region-*.png.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { createFacility } from '../../src/records/facilities.ts';
import { makeNik } from '../../src/domain/nik.ts';
import { createToken } from '../../src/access/tokens.ts';
import { person } from '../helpers/app.ts';
import { PHONE_740, browserSkip, launchBrowser, recordDose, screenshot, startServer, watchedPage, type TestServer } from './helpers.ts';
import { CONSOLE_PASSWORD, consoleAccount, signInConsole } from './console-helpers.ts';

describe('region codes in the console on a 360×740 phone', { skip: browserSkip }, () => {
  let server: TestServer;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  const outside: string[] = [];
  const errors: string[] = [];
  const nik = makeNik({ province: '12', regency: '71', district: '01', birthDate: '1983-06-21', sex: 'M', serial: 11 });

  before(async () => {
    server = await startServer();
    await createFacility(server.db.db, { code: 'PKM-MEDAN-BARU', name: 'Puskesmas Medan Baru', regionCode: '12.71.01' });
    const facility = { code: 'PKM-MEDAN-BARU', token: (await createToken(server.db.db, { role: 'facility', facility: 'PKM-MEDAN-BARU', label: 'meja' }, null)).token };
    await recordDose(server, { person: { ...person({ name: 'Andi Siregar', birthDate: '1983-06-21', sex: 'M' }), nik }, facility });
    browser = await launchBrowser({ viewport: PHONE_740 });
    page = await watchedPage(browser, server.url, outside, errors);
  });
  after(async () => {
    await browser?.cleanup();
    await server?.stop();
  });

  it('an admin makes a district account with region 12.71 as typed; it is listed as 12.71 and stored in digits', async () => {
    const admin = await consoleAccount(server, 'admin', {}, 'Admin Pusat');
    await signInConsole(page, server, admin.username, CONSOLE_PASSWORD, '/console/accounts');
    await page.getByRole('heading', { level: 1, name: 'Akun Petugas' }).waitFor();
    await page.getByLabel('Nama pengguna').fill('dinkes-medan');
    await page.getByLabel('Nama tampilan').fill('Dinkes Kota Medan');
    await page.getByLabel('Peran').selectOption('district');
    const region = page.getByLabel('Kode wilayah');
    assert.equal(await region.getAttribute('inputmode'), 'decimal', 'a keypad with a dot');
    await region.fill('12.71');
    await page.getByLabel('Kata sandi awal').fill('kata-sandi-kota-77');
    await page.getByRole('button', { name: 'Buat akun' }).click();
    await page.getByTestId('accounts-message').getByText('Akun dinkes-medan dibuat.').waitFor();
    const row = page.locator('[data-testid=account][data-username=dinkes-medan]');
    assert.match((await row.textContent()) ?? '', /Dinas Kesehatan · 12\.71 ·/);
    const stored = await server.db.db.query<{ region_code: string }>("SELECT region_code FROM staff_accounts WHERE username = 'dinkes-medan'");
    assert.equal(stored.rows[0]?.region_code, '1271');
    assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= PHONE_740.width);
    await screenshot(page, 'console-region-account');
    await page.getByTestId('sign-out').click();
  });

  it('the district sees its region dotted, and its search shows a person’s region as 12.71.01', async () => {
    await signInConsole(page, server, 'dinkes-medan', 'kata-sandi-kota-77');
    assert.match((await page.getByTestId('user-scope').textContent()) ?? '', /Wilayah 12\.71$/);
    await page.goto(server.url + '/console/people');
    await page.getByLabel('NIK, nomor HP, atau nama').fill(nik);
    await page.getByRole('button', { name: 'Cari', exact: true }).click();
    const results = page.getByTestId('search-results');
    await results.waitFor();
    assert.match((await results.locator('tbody tr').first().textContent()) ?? '', /12\.71\.01/);
    await screenshot(page, 'console-region-search');
    assert.deepEqual(errors, []);
    assert.deepEqual(outside, []);
  });
});
