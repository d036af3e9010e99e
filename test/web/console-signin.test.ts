/**
 * The console's sign-in and shell in real Chromium at phone width: a wrong
 * password, signing in, the user and facility shown, the navigation of the
 * role (and a page of another role refused), the language switch, a direct
 * link into the console, sign-out. Screenshots in
 * test-results/screenshots/console-signin-*.png.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { facilityWithToken } from '../helpers/app.ts';
import { browserSkip, launchBrowser, screenshot, startServer, type TestServer } from './helpers.ts';
import { consoleAccount, CONSOLE_PASSWORD, signInConsole } from './console-helpers.ts';

describe('console sign-in and shell in Chromium', { skip: browserSkip }, () => {
  let server: TestServer;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  let facility: { code: string };
  let nurse: { username: string };
  const errors: string[] = [];
  const outside: string[] = [];

  before(async () => {
    server = await startServer();
    facility = await facilityWithToken(server.db.db, '317101');
    nurse = await consoleAccount(server, 'facility', { facility: facility.code }, 'Siti Aminah');
    browser = await launchBrowser();
    browser.on('request', (r) => {
      if (!r.url().startsWith(server.url)) outside.push(r.url());
    });
    page = await browser.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
  });
  after(async () => {
    await browser?.cleanup();
    await server?.stop();
  });

  it('shows the sign-in form in Indonesian and refuses a wrong password', async () => {
    await page.goto(server.url + '/console');
    await page.getByLabel('Nama pengguna').waitFor();
    assert.equal(await page.getAttribute('html', 'lang'), 'id');
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Masuk ke Konsol');
    await page.getByLabel('Nama pengguna').fill(nurse.username);
    await page.getByLabel('Kata sandi').fill('bukan-sandinya-123');
    await page.getByRole('button', { name: 'Masuk' }).click();
    await page.getByTestId('signin-error').waitFor();
    assert.match((await page.getByTestId('signin-error').textContent()) ?? '', /Nama pengguna atau kata sandi salah/);
    assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 360);
    await screenshot(page, 'console-signin-wrong-password');
  });

  it('signs in: the user, role and facility are shown, with the navigation of the role', async () => {
    await signInConsole(page, server, nurse.username);
    assert.equal(await page.getByTestId('user-name').textContent(), 'Siti Aminah');
    assert.match((await page.getByTestId('user-scope').textContent()) ?? '', new RegExp(`Fasilitas · ${facility.code}`));
    const cookies = await browser.cookies(server.url);
    const session = cookies.find((c) => c.name === 'dosis_session');
    assert.ok(session?.httpOnly, 'session cookie is HttpOnly');
    assert.equal(session?.sameSite, 'Strict');
    assert.equal(await page.evaluate(() => document.cookie.includes('dosis_session')), false);
    await page.getByRole('button', { name: 'Buka menu' }).click();
    const nav = page.getByRole('navigation', { name: 'Menu konsol' });
    const links = await nav.getByRole('link').allTextContents();
    assert.ok(links.includes('Catat dosis'), links.join(', '));
    assert.ok(links.includes('Unggah berkas'), links.join(', '));
    assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 360);
    await screenshot(page, 'console-signin-menu');
    await nav.getByRole('link', { name: 'Catat dosis' }).click();
    await page.getByRole('heading', { level: 1, name: 'Catat Dosis' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/console/record');
  });

  it('is an installable web app (manifest and service worker, as Chromium judges it)', async () => {
    await page.evaluate(async () => {
      await navigator.serviceWorker.ready;
    });
    const cdp = await browser.newCDPSession(page);
    const r = (await cdp.send('Page.getInstallabilityErrors')) as { installabilityErrors: { errorId: string }[] };
    // In a run of scripts/test.ts the page is in a new context of the run's one Chromium, which is off the
    // record: Chromium adds 'in-incognito' to what it finds, and still reports every other error (a page
    // without its manifest there showed 'in-incognito' and the same errors as in a profile of its own).
    assert.deepEqual(r.installabilityErrors.map((e) => e.errorId).filter((id) => id !== 'in-incognito'), []);
    const manifest = (await cdp.send('Page.getAppManifest')) as { url: string; errors: unknown[] };
    assert.match(manifest.url, /\/console\.webmanifest$/);
    assert.deepEqual(manifest.errors, []);
    await cdp.detach();
  });

  it('opens a console link directly, keeps the session on reload, and switches to English', async () => {
    await page.goto(server.url + '/console/record');
    await page.getByRole('heading', { level: 1, name: 'Catat Dosis' }).waitFor();
    await page.getByRole('button', { name: 'English' }).click();
    await page.getByRole('heading', { level: 1, name: 'Record a Dose' }).waitFor();
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    assert.match((await page.getByTestId('user-scope').textContent()) ?? '', /Facility/);
    await screenshot(page, 'console-signin-english');
    await page.getByRole('button', { name: 'Bahasa Indonesia' }).click();
    await page.getByRole('heading', { level: 1, name: 'Catat Dosis' }).waitFor();
  });

  it('refuses a page of another role and an unknown console address', async () => {
    await page.goto(server.url + '/console/accounts');
    await page.getByRole('heading', { level: 1, name: 'Tidak tersedia untuk peran Anda' }).waitFor();
    await page.goto(server.url + '/console/nowhere');
    await page.getByRole('heading', { level: 1, name: 'Halaman tidak ditemukan' }).waitFor();
  });

  it('signs out: the session ends on the server too', async () => {
    const before = (await browser.cookies(server.url)).find((c) => c.name === 'dosis_session')!.value;
    await page.getByTestId('sign-out').click();
    await page.getByLabel('Nama pengguna').waitFor();
    const r = await server.rt.app.inject({ method: 'GET', url: '/api/v1/session', headers: { cookie: `dosis_session=${before}` } });
    assert.equal(r.statusCode, 401);
    await page.reload();
    await page.getByLabel('Nama pengguna').waitFor();
    // A district account sees its region and no facility.
    const district = await consoleAccount(server, 'district', { region: '3171' }, 'Dinkes Jakarta Pusat');
    await signInConsole(page, server, district.username, CONSOLE_PASSWORD);
    assert.match((await page.getByTestId('user-scope').textContent()) ?? '', /Dinas Kesehatan · Wilayah 31\.71/);
  });

  it('lets an admin create an account, which then signs in, and disable it', async () => {
    await page.getByTestId('sign-out').click();
    const admin = await consoleAccount(server, 'admin', {}, 'Admin Pusat');
    await signInConsole(page, server, admin.username, CONSOLE_PASSWORD, '/console/accounts');
    await page.getByRole('heading', { level: 1, name: 'Akun Petugas' }).waitFor();
    await page.getByLabel('Nama pengguna').fill('bidan-baru');
    await page.getByLabel('Nama tampilan').fill('Bidan Baru');
    await page.getByLabel('Peran').selectOption('facility');
    await page.getByLabel('Faskes').selectOption(facility.code);
    await page.getByLabel('Kata sandi awal').fill('sandi-awal-bidan-1');
    await page.getByRole('button', { name: 'Buat akun' }).click();
    await page.getByTestId('accounts-message').getByText('Akun bidan-baru dibuat.').waitFor();
    const signIn = () => server.rt.app.inject({ method: 'POST', url: '/api/v1/session', payload: { username: 'bidan-baru', password: 'sandi-awal-bidan-1' } });
    assert.equal((await signIn()).statusCode, 200);
    const row = page.locator('[data-testid=account][data-username=bidan-baru]');
    await screenshot(page, 'console-signin-accounts');
    await row.getByRole('button', { name: 'Nonaktifkan' }).click();
    await row.getByTestId('account-state').getByText('nonaktif').waitFor();
    assert.equal((await signIn()).statusCode, 401);
  });

  it('made no request to another site and raised no script error', () => {
    assert.deepEqual(outside, []);
    assert.deepEqual(errors, []);
  });
});
