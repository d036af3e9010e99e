/**
 * The console as a district officer uses it, on a 360×740 phone in Chromium:
 * (1) "my first dose is not in the database" — the person page says at the top,
 * in words, that dose 1 is missing, since when, the likely matching record
 * (same name and birth date, another NIK, another facility) and whom to ask;
 * a facility sees only the matches within its own scope; the work list tells
 * the case in words; (2) the timeline reads as sentences with local dates and
 * vaccine names, one line per SMS with its final state, the technical fields
 * folded away; (3) the start page and the work list's tabs carry counts and the
 * work list opens on the first tab that holds a case; (4) "Batalkan dosis" is
 * offered only where the server allows it, and asks in the future tense.
 * Screenshots: test-results/screenshots/console-district-*.png (and
 * /work/screens/ when DOSIS_SCREENS_DIR names it).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import type { Worker } from '../../src/notify/outbox.ts';
import { createAccount } from '../../src/access/accounts.ts';
import { bearer, facilityWithToken, person } from '../helpers/app.ts';
import { browserSkip, launchBrowser, recordDose, screenshot, startServer, watchedPage, type TestServer } from './helpers.ts';

const PASSWORD = 'kata-sandi-dinkes-2024';
/** The phone the issue was tried on. */
const PHONE_740 = { width: 360, height: 740 };
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
const ISO_DATE = /\b\d{4}-\d{2}-\d{2}\b/;

describe('the console for a district officer, on a 360×740 phone', { skip: browserSkip }, () => {
  let server: TestServer;
  let worker: Worker;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  const errors: string[] = [];
  const outside: string[] = [];
  let facA: { code: string; token: string };
  let facB: { code: string; token: string };
  let facC: { code: string; token: string };
  // Dose 1 at facility A under her NIK; dose 2 at facility B under a mistyped NIK: B's record lacks dose 1.
  const siti = person({ name: 'Siti Rahmawati', sex: 'F', birthDate: '1985-03-09', phone: '0812-7100-2200' });
  const sitiTypo = person({ name: 'Siti Rahmawati', sex: 'F', birthDate: '1985-03-09', phone: '0812-7100-2200' });
  let dose1: Awaited<ReturnType<typeof recordDose>>;
  let dose2: Awaited<ReturnType<typeof recordDose>>;
  // One person with dose 1 from facility A and dose 2 from facility B (same NIK).
  let budiA: Awaited<ReturnType<typeof recordDose>>;
  let budiB: Awaited<ReturnType<typeof recordDose>>;

  const signIn = async (username: string): Promise<void> => {
    await page.context().clearCookies();
    const r = await page.request.post(server.url + '/api/v1/session', { data: { username, password: PASSWORD } });
    assert.equal(r.status(), 200, await r.text());
  };
  /** What the page shows (innerText: a folded <details> is not shown, so not counted). */
  const shown = async (testId: string): Promise<string> => page.getByTestId(testId).evaluate((el) => (el as HTMLElement).innerText);
  const shot = async (name: string): Promise<void> => {
    const path = await screenshot(page, `console-district-${name}`);
    const dir = process.env.DOSIS_SCREENS_DIR;
    if (dir) {
      mkdirSync(dir, { recursive: true });
      copyFileSync(path, join(dir, `console-district-${name}.png`));
    }
  };

  before(async () => {
    server = await startServer();
    worker = server.rt.deps.notify.worker({ pollMs: 10 });
    const db = server.db.db;
    facA = await facilityWithToken(db, '317101');
    facB = await facilityWithToken(db, '317102');
    facC = await facilityWithToken(db, '317103');
    await db.query("UPDATE facilities SET name = 'Puskesmas Tanjung Priok', phone = '+62214301234' WHERE code = $1", [facA.code]);
    await db.query("UPDATE facilities SET name = 'Puskesmas Koja', phone = '+62214305678' WHERE code = $1", [facB.code]);
    const account = (username: string, role: 'facility' | 'district' | 'support', scope: { facility?: string; region?: string } = {}) =>
      createAccount(db, { username, displayName: username, role, password: PASSWORD, facility: scope.facility ?? null, region: scope.region ?? null }, null);
    await account('dinkes-jakut', 'district', { region: '3171' });
    await account('pkm-koja', 'facility', { facility: facB.code });
    await account('pkm-c', 'facility', { facility: facC.code });
    await account('bantuan', 'support');
    dose1 = await recordDose(server, { person: siti, facility: facA, body: { doseNumber: 1, date: '2021-07-01' } });
    dose2 = await recordDose(server, { person: sitiTypo, facility: facB, body: { doseNumber: 2, date: '2021-08-01' } });
    const budi = person({ name: 'Budi Hartono', sex: 'M', birthDate: '1970-11-02' });
    budiA = await recordDose(server, { person: budi, facility: facA, body: { doseNumber: 1, date: '2021-06-01' } });
    budiB = await recordDose(server, { person: budi, facility: facB, body: { doseNumber: 2, date: '2021-07-01' } });
    // Facility C's only case: a person recorded without a phone (invalid_phone), not the first tab.
    const nophone: Record<string, unknown> = { ...person({ name: 'Yusuf Tanpa Nomor' }) };
    delete nophone.phone;
    await recordDose(server, { person: nophone as ReturnType<typeof person>, facility: facC });
    await worker.drain();
    browser = await launchBrowser({ viewport: PHONE_740 });
    page = await watchedPage(browser, server.url, outside, errors);
  });
  after(async () => {
    if (errors.length) console.log('page errors:', errors);
    await worker?.stop?.();
    await browser?.cleanup();
    await server?.stop();
  });

  it('(1) the person page says at the top that dose 1 is missing, with the matching record, whom to ask and the actions; the work list says it in words', async () => {
    await signIn('dinkes-jakut');
    await page.goto(`${server.url}/console/people/${dose2.person.id}`);
    const missing = page.getByTestId('missing-dose');
    await missing.waitFor();
    const heading = (await missing.getByRole('heading', { level: 2 }).textContent()) ?? '';
    assert.match(heading, /^Dosis 1 belum tercatat — kasus terbuka sejak \d{1,2} \w+ \d{4}$/);
    // At the top: seen without scrolling on the phone, before the person's facts.
    const box = await missing.boundingBox();
    assert.ok(box && box.y < PHONE_740.height, `the missing dose is on the first screen (y=${box?.y})`);
    const factsBox = await page.getByTestId('person-facts').boundingBox();
    assert.ok(factsBox && box && box.y < factsBox.y, 'above the facts');
    const text = await shown('missing-dose');
    assert.match(text, /Dosis 2 \(CoronaVac, 1 Agustus 2021\) dicatat oleh Puskesmas Koja, tetapi dosis 1 tidak ada di data ini\./);
    // The likely match: dose 1 at facility A under the other NIK (masked for a district).
    const match = page.locator(`[data-testid="matches"] [data-person="${dose1.person.id}"]`);
    await match.waitFor();
    const matchText = (await match.textContent()) ?? '';
    assert.match(matchText, /Siti Rahmawati, lahir 9 Maret 1985/);
    assert.match(matchText, /Dosis 1 · CoronaVac · 1 Juli 2021 · Puskesmas Tanjung Priok/);
    assert.ok(!matchText.includes(siti.nik), 'the NIK is masked for a district');
    // Whom to ask: both facilities, with their numbers to call.
    const ask = page.getByTestId('ask-facility');
    assert.equal(await ask.locator('a[href="tel:+62214305678"]').count(), 1);
    assert.equal(await ask.locator('a[href="tel:+62214301234"]').count(), 1);
    // Actions the server allows a district: confirm with evidence; linking is support's (said, not offered).
    assert.equal(await missing.getByRole('button', { name: 'Konfirmasi dengan bukti' }).count(), 1);
    assert.equal(await missing.getByRole('button', { name: 'Tautkan data ini' }).count(), 0);
    assert.match(text, /Menautkan data dilakukan oleh Layanan Bantuan/);
    assert.doesNotMatch(text, /missing|doseNumber|\{"/);
    await shot('person-missing-dose-1');

    // The work list: the case in words, its JSON folded away.
    await page.goto(`${server.url}/console/work?kind=claims_prior_dose`);
    const card = page.locator(`[data-person="${dose2.person.id}"]`);
    await card.waitFor();
    const cardText = await card.evaluate((el) => (el as HTMLElement).innerText);
    assert.match(cardText, /Dosis 1 belum tercatat, padahal dosis 2 sudah dicatat oleh /);
    assert.doesNotMatch(cardText, /missing|doseNumber|\[1\]/);
    await shot('work-claims-prior-dose');

    // A facility token is hostile: facility B sees its own person, but not the record facility A holds.
    const sameSearch = await server.rt.app.inject({ method: 'GET', url: `/api/v1/people/${dose2.person.id}/matches`, headers: bearer(facB.token) });
    assert.equal(sameSearch.statusCode, 200, sameSearch.body);
    assert.deepEqual(sameSearch.json().matches, [], 'no record outside the facility’s scope');
    const notMine = await server.rt.app.inject({ method: 'GET', url: `/api/v1/people/${dose1.person.id}/matches`, headers: bearer(facB.token) });
    assert.equal(notMine.statusCode, 404);
    await signIn('pkm-koja');
    await page.goto(`${server.url}/console/people/${dose2.person.id}`);
    await page.getByTestId('missing-dose').waitFor();
    await page.getByText('Tidak ada data lain dengan nama dan tanggal lahir yang sama di wilayah kerja Anda.').waitFor();
    const facilityView = await page.locator('main').evaluate((el) => (el as HTMLElement).innerText);
    assert.ok(!facilityView.includes('Puskesmas Tanjung Priok') && !facilityView.includes('1 Juli 2021'), 'nothing of the record facility B may not see');

    // Support links the matching record from the person page: the case closes, both doses on one record.
    await signIn('bantuan');
    await page.goto(`${server.url}/console/people/${dose2.person.id}`);
    const supportMatch = page.locator(`[data-testid="matches"] [data-person="${dose1.person.id}"]`);
    await supportMatch.getByRole('button', { name: 'Tautkan data ini' }).click();
    assert.match((await supportMatch.locator('.op-confirm').textContent()) ?? '', /akan digabung/);
    await supportMatch.getByRole('button', { name: 'Ya, lanjutkan' }).click();
    await page.waitForFunction(() => !document.querySelector('[data-testid="missing-dose"]') && document.querySelectorAll('[data-testid="doses"] > li').length === 2);
    assert.deepEqual(errors, []);
    assert.deepEqual(outside, []);
  });

  it('(2) the timeline tells each event in words with local dates and the vaccine’s name; one line per SMS with its final state; the technical detail behind a toggle', async () => {
    await signIn('dinkes-jakut');
    await page.goto(`${server.url}/console/people/${budiA.person.id}`);
    const events = page.getByTestId('events');
    await events.waitFor();
    const text = await shown('events');
    assert.doesNotMatch(text, UUID, 'no ids');
    assert.doesNotMatch(text, ISO_DATE, 'no ISO dates');
    assert.doesNotMatch(text, /idempotencyKey|vaccinationId|\bdn\b|\bsd\b|\bkid\b|\{"|CORONAVAC/);
    assert.match(text, /Dosis 1 dicatat: CoronaVac, 1 Juni 2021/);
    assert.match(text, /Dosis 2 dicatat: CoronaVac, 1 Juli 2021/);
    assert.match(text, /Sertifikat dosis 2 terbit/);
    // One line per SMS, saying where it ended as the database has it.
    const sms = (await server.db.db.query<{ status: string }>('SELECT status FROM notifications WHERE person_id = $1 ORDER BY created_at', [budiA.person.id])).rows;
    assert.ok(sms.length >= 2);
    const smsLines = events.locator(':scope > li[data-type="sms"]');
    assert.equal(await smsLines.count(), sms.length, 'one line per SMS');
    const words: Record<string, RegExp> = { delivered: /diterima di HP/, submitted: /terkirim, belum ada laporan/, unknown: /terkirim, tidak ada laporan/, pending: /menunggu dikirim/ };
    for (const [i, n] of sms.entries()) {
      const head = (await smsLines.nth(i).locator('.op-event-head strong').textContent()) ?? '';
      assert.match(head, words[n.status] ?? /gagal|ditahan/, `SMS ${i}: ${head}`);
    }
    const raw = (await server.db.db.query<{ n: number }>('SELECT count(*)::int AS n FROM notification_events WHERE person_id = $1', [budiA.person.id])).rows[0]!.n;
    const lines = await events.locator(':scope > li').count();
    assert.ok(raw > sms.length && lines < 10, `${lines} lines for 2 doses (${raw} SMS events folded under their SMS)`);
    // The detail is still there for support: behind "Rincian teknis".
    const firstDose = events.locator(':scope > li[data-type="dose_recorded"]').first();
    await firstDose.getByText('Rincian teknis').click();
    assert.match(await firstDose.evaluate((el) => (el as HTMLElement).innerText), /vaccinationId.*[0-9a-f]{8}-/s);
    await firstDose.getByText('Rincian teknis').click();
    await shot('timeline');
    // The same story in English after the switch.
    await page.getByRole('button', { name: 'English' }).click();
    await page.getByRole('heading', { name: 'Doses' }).waitFor();
    const en = await shown('events');
    assert.match(en, /Dose 1 recorded: CoronaVac, 1 June 2021/);
    assert.match(en, /Certificate SMS to .*: (delivered to the phone|sent, no delivery report yet)/);
    await page.getByRole('button', { name: 'Bahasa Indonesia' }).click();
    await page.getByRole('heading', { name: 'Dosis', exact: true }).waitFor();
    assert.deepEqual(errors, []);
  });

  it('(3) the start page and the tabs show counts, and the work list opens on the first tab that holds a case', async () => {
    await signIn('pkm-c');
    await page.goto(`${server.url}/console`);
    const home = page.getByTestId('home-work');
    await home.waitFor();
    assert.match((await home.textContent()) ?? '', /Nomor HP tidak valid: 1/);
    assert.doesNotMatch((await home.textContent()) ?? '', /Klaim dosis sebelumnya/, 'only lists that hold something');
    await page.goto(`${server.url}/console/work`);
    const current = page.locator('.op-tab.current');
    await current.waitFor();
    assert.equal((await current.textContent())?.trim(), 'Nomor HP tidak valid (1)', 'opens on the non-empty tab');
    assert.equal((await page.locator('.op-tab', { hasText: 'Klaim dosis sebelumnya' }).textContent())?.trim(), 'Klaim dosis sebelumnya (0)');
    await page.getByTestId('cases').waitFor();
    await shot('work-first-non-empty');

    // The district's counts are the API's, which are the database's within its region.
    await signIn('dinkes-jakut');
    await page.goto(`${server.url}/console`);
    await page.getByTestId('home-work').waitFor();
    const open = (await server.db.db.query<{ kind: string; n: number }>("SELECT kind, count(*)::int AS n FROM cases WHERE status = 'open' GROUP BY kind")).rows;
    for (const { kind, n } of open) assert.equal(await page.locator(`[data-testid="home-work"] [data-kind="${kind}"]`).textContent().then((s) => Number(/: (\d+)$/.exec(s ?? '')?.[1])), n, kind);
    await shot('home-counts');
  });

  it('(4) "Batalkan dosis" only on a dose this facility recorded; the server still refuses the other; the question is asked before it happens', async () => {
    await signIn('pkm-koja');
    await page.goto(`${server.url}/console/people/${budiA.person.id}`);
    const doses = page.getByTestId('doses').locator(':scope > li');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="doses"] > li').length === 2);
    assert.equal(await doses.nth(0).getByRole('button', { name: 'Batalkan dosis' }).count(), 0, 'dose 1 was recorded by another facility');
    assert.equal(await doses.nth(1).getByRole('button', { name: 'Batalkan dosis' }).count(), 1);
    const refused = await server.rt.app.inject({ method: 'POST', url: `/api/v1/vaccinations/${budiA.vaccination.id}/void`, headers: bearer(facB.token), payload: { reason: 'salah catat' } });
    assert.equal(refused.statusCode, 404, 'the server still refuses it');
    await doses.nth(1).getByRole('button', { name: 'Batalkan dosis' }).click();
    const question = (await doses.nth(1).locator('.op-confirm').textContent()) ?? '';
    assert.match(question, /^Dosis 2 \(1 Juli 2021\) akan dibatalkan/);
    await doses.nth(1).getByLabel('Alasan (min. 3 karakter)').fill('salah orang');
    await doses.nth(1).getByRole('button', { name: 'Ya, lanjutkan' }).click();
    // The page reloads: the dose now says it was voided, and is no longer offered for voiding.
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="doses"] > li')[1]?.getAttribute('data-state') === 'void');
    assert.match((await doses.nth(1).textContent()) ?? '', /Dosis 2 \(1 Juli 2021\) dibatalkan karena salah catat\./);
    assert.equal(await page.getByRole('button', { name: 'Batalkan dosis' }).count(), 0);
    const v = await server.db.db.query<{ status: string }>('SELECT status FROM vaccinations WHERE id = $1', [budiB.vaccination.id]);
    assert.equal(v.rows[0]?.status, 'void');
    assert.deepEqual(errors, []);
  });
});
