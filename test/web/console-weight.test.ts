/**
 * Issue 17 item 16: the console's page weight on a phone. Each page's code is
 * its own chunk (web/console/pages.ts, `load`), so signing in fetches the
 * shell only and the record form only what it needs. The budget is in bytes
 * of gzip-compressed script (level 9, as web/dist/*.gz): tests never assert a
 * timing; `npm run bench -- pages --part phone` prints the throttled-phone
 * timings these budgets are for.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { facilityWithToken } from '../helpers/app.ts';
import { browserSkip, launchBrowser, startServer, type TestServer } from './helpers.ts';
import { consoleAccount, CONSOLE_PASSWORD } from './console-helpers.ts';
import { sum, watchScripts, type ScriptWeight } from './page-weight.ts';

/** Sign-in: at most 40 KB of compressed script (issue 17). */
export const SIGN_IN_BUDGET = 40_000;
/**
 * The record form opened by a link: its own code, shown and typed into while its checks (the phone-number
 * metadata, web/console/validator.ts) still arrive — what 3 s on slow 3G (50 KB/s, 400 ms round trips) leaves room for.
 */
export const RECORD_FORM_BUDGET = 50_000;
/** …and with its checks, when it can be sent. */
export const RECORD_FORM_CHECKED_BUDGET = 110_000;

const show = (scripts: ScriptWeight[]): string => scripts.map((s) => `${s.path} ${s.gzip} B`).join(', ');

describe('console page weight on a 360×740 phone', { skip: browserSkip }, () => {
  let server: TestServer;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let nurse: { username: string };
  const errors: string[] = [];

  before(async () => {
    server = await startServer();
    const facility = await facilityWithToken(server.db.db, '317101');
    nurse = await consoleAccount(server, 'facility', { facility: facility.code });
    // No service worker: its cache would answer the requests counted here.
    browser = await launchBrowser({ viewport: { width: 360, height: 740 }, serviceWorkers: 'block' });
  });
  after(async () => {
    await browser?.cleanup();
    await server?.stop();
  });

  /** Opens `path` in a new tab; returns the scripts it loaded once `ready` is shown and the network is quiet. */
  const open = async (path: string, ready: (page: Page) => Promise<unknown>): Promise<ScriptWeight[]> => {
    const page = await browser.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    const scripts = watchScripts(page, server.url);
    await page.goto(server.url + path);
    await ready(page);
    await page.waitForLoadState('networkidle');
    await page.close();
    return scripts();
  };

  it(`sign-in loads at most ${SIGN_IN_BUDGET} bytes of compressed script, and no page's code`, async () => {
    const scripts = await open('/console', (page) => page.getByLabel('Nama pengguna').waitFor());
    assert.ok(sum(scripts, 'gzip') <= SIGN_IN_BUDGET, `sign-in: ${sum(scripts, 'gzip')} B gzip > ${SIGN_IN_BUDGET}: ${show(scripts)}`);
    for (const s of scripts) assert.doesNotMatch(s.path, /\/(record|dashboard|timeline|search|work|upload|accounts)-/, `sign-in loaded a page's code: ${show(scripts)}`);
  });

  it(`the record form, opened by a link, is shown with at most ${RECORD_FORM_BUDGET} bytes of compressed script, sendable with ${RECORD_FORM_CHECKED_BUDGET}`, async () => {
    const r = await browser.request.post(server.url + '/api/v1/session', { data: { username: nurse.username, password: CONSOLE_PASSWORD } });
    assert.equal(r.status(), 200, await r.text());
    const page = await browser.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    const scripts = watchScripts(page, server.url);
    // The checks are held back: the form must not wait for them.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    await page.route(/\/assets\/checks-[^/]*\.js$/, async (route) => {
      await released;
      await route.continue();
    });
    await page.goto(server.url + '/console/record');
    const nik = page.getByLabel('NIK');
    await nik.fill('3171041705800001');
    assert.equal(await page.getByTestId('submit-dose').isDisabled(), true, 'not sendable before the checks arrived');
    const form = scripts().filter((s) => !/\/checks-/.test(s.path));
    assert.ok(sum(form, 'gzip') <= RECORD_FORM_BUDGET, `record form: ${sum(form, 'gzip')} B gzip > ${RECORD_FORM_BUDGET}: ${show(form)}`);
    assert.ok(form.some((s) => /\/record-/.test(s.path)), `the form's own chunk: ${show(form)}`);
    for (const s of form) assert.doesNotMatch(s.path, /\/(dashboard|timeline|search|work|upload|accounts)-/, `the record form loaded another page's code: ${show(form)}`);

    release();
    await page.waitForFunction(() => document.querySelector('[data-testid=submit-dose]:not([disabled])') !== null);
    // The checks work: a NIK with a wrong date part is marked at the field once touched.
    await nik.fill('3171049905800001');
    await nik.blur();
    await page.getByTestId('error-nik').waitFor();
    await page.waitForLoadState('networkidle');
    const all = scripts();
    assert.ok(all.some((s) => /\/checks-/.test(s.path)), show(all));
    assert.ok(sum(all, 'gzip') <= RECORD_FORM_CHECKED_BUDGET, `record form with its checks: ${sum(all, 'gzip')} B gzip > ${RECORD_FORM_CHECKED_BUDGET}: ${show(all)}`);
    await page.close();
  });

  it("a page's code arrives when the page is opened from the menu, and the page works", async () => {
    const page = await browser.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    const scripts = watchScripts(page, server.url);
    await page.goto(server.url + '/console');
    await page.getByTestId('user-name').waitFor();
    await page.waitForLoadState('networkidle');
    assert.ok(!scripts().some((s) => /\/dashboard-/.test(s.path)), show(scripts()));
    await page.getByRole('button', { name: 'Buka menu' }).click();
    await page.getByRole('navigation', { name: 'Menu konsol' }).getByRole('link', { name: 'Pantauan' }).click();
    await page.getByRole('heading', { level: 1, name: 'Pantauan pencatatan dan SMS' }).waitFor();
    assert.ok(scripts().some((s) => /\/dashboard-/.test(s.path)), show(scripts()));
    await page.close();
    assert.deepEqual(errors, []);
  });
});
