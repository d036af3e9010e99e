/**
 * The verifier at 360×740 (issue 17 item 12): a valid certificate of dose 1
 * of 2 says "belum lengkap: dosis 1 dari 2" as large as "Sertifikat valid",
 * and not in the green of a complete series; dose 2 of 2 and a booster say
 * theirs alike. Screenshots in test-results/screenshots/verifier-series-*.png.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { seriesState } from '../../src/certificates/display.ts';
import { facilityWithToken, person } from '../helpers/app.ts';
import { PHONE_740, browserSkip, launchBrowser, publishKeys, recordDose, screenshot, startServer, watchedPage, type TestServer } from './helpers.ts';

describe('seriesState', () => {
  const CORONAVAC = 'CoronaVac';
  it('reads dn/sd with the product’s series size', () => {
    assert.deepEqual(seriesState({ dn: 1, sd: 2, mp: CORONAVAC, dt: '2021-06-10' }, 'id'), { state: 'incomplete', text: 'Belum lengkap: dosis 1 dari 2' });
    assert.deepEqual(seriesState({ dn: 2, sd: 2, mp: CORONAVAC, dt: '2021-07-10' }, 'en'), { state: 'complete', text: 'Primary series complete: dose 2 of 2' });
    assert.deepEqual(seriesState({ dn: 3, sd: 3, mp: CORONAVAC, dt: '2022-03-01' }, 'id'), { state: 'booster', text: 'Booster 1: dosis 3 dari 3' });
    assert.deepEqual(seriesState({ dn: 2, sd: 1, mp: 'EU/1/20/1525', dt: '2022-03-01' }, 'en'), { state: 'booster', text: 'Booster 1: dose 2 of 1' });
    // A product Dosis does not know: n/n is complete.
    assert.equal(seriesState({ dn: 3, sd: 3, mp: 'unknown', dt: '2022-03-01' }, 'en').state, 'complete');
  });
});

describe('the verifier on a 360×740 phone: the series state beside the validity', { skip: browserSkip }, () => {
  let server: TestServer;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  const outside: string[] = [];
  const errors: string[] = [];
  const holder = person({ name: 'Siti Aminah', sex: 'F', birthDate: '1975-01-20' });
  const qrs: string[] = [];

  before(async () => {
    server = await startServer();
    const facility = await facilityWithToken(server.db.db);
    for (const [n, date] of [
      [1, '2021-06-10'],
      [2, '2021-07-10'],
      [3, '2022-03-01'],
    ] as const) {
      qrs.push((await recordDose(server, { person: holder, facility, body: { doseNumber: n, date } })).certificate.qr as string);
    }
    await publishKeys(server);
    browser = await launchBrowser({ viewport: PHONE_740 });
    page = await watchedPage(browser, server.url, outside, errors);
    await page.goto(`${server.url}/verify`);
    await page.getByTestId('trust-status').filter({ hasText: '1 kunci Dosis' }).waitFor();
  });
  after(async () => {
    await browser?.cleanup();
    await server?.stop();
  });

  /** Pastes a certificate; returns the verdict's heading, series line, their font sizes and the box's background. */
  const check = async (qr: string) => {
    await page.getByRole('button', { name: /^(Tempel teks|Paste text)$/ }).click();
    await page.locator('#hc1').fill(qr);
    await page.locator('#paste-form button[type=submit]').click();
    const v = page.locator('.verdict');
    await v.waitFor();
    const size = (sel: string) => v.locator(sel).evaluate((e) => parseFloat(getComputedStyle(e).fontSize));
    const box = await page.getByTestId('series-state').boundingBox();
    return {
      heading: await v.locator('h2').textContent(),
      series: await page.getByTestId('series-state').textContent(),
      headingSize: await size('h2'),
      seriesSize: await size('.series'),
      background: await v.evaluate((e) => getComputedStyle(e).backgroundColor),
      seriesBottom: box ? box.y + box.height : Infinity,
    };
  };
  const again = () => page.getByRole('button', { name: /Periksa sertifikat lain|Check another certificate/ }).click();

  it('dose 1 of 2: "belum lengkap: dosis 1 dari 2" as large as "Sertifikat valid", on the first screen, not green', async () => {
    const first = await check(qrs[0]!);
    assert.equal(first.heading, 'Sertifikat valid');
    assert.equal(first.series, 'Belum lengkap: dosis 1 dari 2');
    assert.ok(first.seriesSize >= first.headingSize, `series ${first.seriesSize}px, validity ${first.headingSize}px`);
    assert.ok(first.seriesBottom <= PHONE_740.height, 'seen without scrolling');
    await screenshot(page, 'verifier-series-incomplete');
    await again();
    const complete = await check(qrs[1]!);
    assert.equal(complete.series, 'Vaksinasi primer lengkap: dosis 2 dari 2');
    assert.ok(complete.seriesSize >= complete.headingSize);
    assert.notEqual(first.background, complete.background, 'an incomplete series does not look like a complete one');
    await screenshot(page, 'verifier-series-complete');
    await again();
  });

  it('a booster says so, in English too', async () => {
    await page.getByRole('button', { name: 'English' }).click();
    const booster = await check(qrs[2]!);
    assert.equal(booster.heading, 'Valid certificate');
    assert.equal(booster.series, 'Booster 1: dose 3 of 3');
    await screenshot(page, 'verifier-series-booster-en');
    await again();
    const first = await check(qrs[0]!);
    assert.equal(first.series, 'Not complete: dose 1 of 2');
    assert.deepEqual(errors, []);
    assert.deepEqual(outside, []);
  });
});
