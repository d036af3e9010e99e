/**
 * The console's operator pages in real Chromium, signed in with staff
 * accounts (password sessions): find a person by NIK and by name and read the
 * timeline; merge two records of one person and see the doses together;
 * correct a phone from the work list and read the SMS sent again from the
 * sink; the API's refusal shown as it answered; the dashboard's counts equal
 * to the database's; a facility cannot open another facility's person (the
 * 404 page) and a district sees identifiers masked. Screenshots in
 * test-results/screenshots/console-ops-*.png.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { Worker } from '../../src/notify/outbox.ts';
import { createAccount } from '../../src/access/accounts.ts';
import { maskNik } from '../../src/domain/masking.ts';
import { ADMIN_TOKEN, bearer, doseBody, facilityWithToken, person } from '../helpers/app.ts';
import { browserSkip, launchBrowser, watchedPage, PHONE, recordDose, screenshot, startServer, type TestServer } from './helpers.ts';

const PASSWORD = 'kata-sandi-panjang-42';
const WIDE = { width: 1100, height: 900 };

describe('console operator pages in Chromium', { skip: browserSkip }, () => {
  let server: TestServer;
  let worker: Worker;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  const errors: string[] = [];
  const outside: string[] = [];
  let facA: { code: string; token: string };
  let facB: { code: string; token: string };
  // One woman recorded twice: dose 1 under her NIK, dose 2 under a mistyped NIK (a claimed earlier dose).
  const rina = person({ name: 'Rina Wulandari', sex: 'F', birthDate: '1988-04-12', phone: '0812-7000-1111' });
  const rinaTypo = person({ name: 'Rina Wulandari', sex: 'F', birthDate: '1988-04-12', phone: '0812-7000-1111' });
  let dose1: Awaited<ReturnType<typeof recordDose>>;
  let dose2: Awaited<ReturnType<typeof recordDose>>;
  let nophone: Awaited<ReturnType<typeof recordDose>>;

  const signIn = async (username: string): Promise<void> => {
    const r = await page.request.post(server.url + '/api/v1/session', { data: { username, password: PASSWORD } });
    assert.equal(r.status(), 200, await r.text());
  };
  const sql = async (text: string, params: unknown[] = []): Promise<number> => Number((await server.db.db.query<{ n: number }>(text, params)).rows[0]?.n);

  before(async () => {
    server = await startServer();
    worker = server.rt.deps.notify.worker({ pollMs: 10 });
    const db = server.db.db;
    facA = await facilityWithToken(db, '317101');
    facB = await facilityWithToken(db, '327301');
    const account = (username: string, role: 'facility' | 'district' | 'support' | 'admin', scope: { facility?: string; region?: string } = {}) =>
      createAccount(db, { username, displayName: username, role, password: PASSWORD, facility: scope.facility ?? null, region: scope.region ?? null }, null);
    await account('bantuan', 'support');
    await account('pusat', 'admin');
    await account('pkm-a', 'facility', { facility: facA.code });
    await account('pkm-b', 'facility', { facility: facB.code });
    await account('dinkes-jakut', 'district', { region: '3171' });
    dose1 = await recordDose(server, { person: rina, facility: facA, body: { doseNumber: 1, date: '2021-07-01' } });
    dose2 = await recordDose(server, { person: rinaTypo, facility: facA, body: { doseNumber: 2, date: '2021-08-01' } });
    const p: Record<string, unknown> = { ...person({ name: 'Yohanes Tanpa Nomor' }) };
    delete p.phone;
    nophone = await recordDose(server, { person: p as ReturnType<typeof person>, facility: facA });
    await recordDose(server, { facility: facB });
    await worker.drain();
    browser = await launchBrowser({ viewport: WIDE });
    page = await watchedPage(browser, server.url, outside, errors);
  });
  after(async () => {
    await worker?.stop?.();
    await browser?.cleanup();
    await server?.stop();
  });

  it('finds a person by NIK and reads the timeline: the dose in words, its certificate, the SMS text and the gateway answers', async () => {
    await signIn('bantuan');
    await page.goto(server.url + '/console/people');
    await page.getByLabel('NIK, nomor HP, atau nama').fill(rina.nik);
    await page.getByRole('button', { name: 'Cari', exact: true }).click();
    const results = page.getByTestId('search-results');
    await results.waitFor();
    assert.equal(await results.locator('tbody tr').count(), 1);
    await screenshot(page, 'console-ops-search-nik');
    await results.getByRole('link', { name: 'Rina Wulandari' }).click();
    await page.getByTestId('doses').waitFor();
    assert.equal(new URL(page.url()).pathname, `/console/people/${dose1.person.id}`);
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Rina Wulandari');
    const doseText = (await page.getByTestId('doses').textContent()) ?? '';
    assert.match(doseText, /Dosis 1 \(1 Juli 2021\) tercatat dan sertifikatnya sudah terbit; SMS (sudah diterima|terkirim)/);
    const events = page.getByTestId('events');
    assert.ok(await events.locator('[data-type="dose_recorded"]').count() >= 1);
    assert.ok(await events.locator('[data-type="certificate_issued"]').count() >= 1);
    const sms = await events.locator('[data-type="sms"] .op-sms-text').first().textContent();
    const stored = (await server.db.db.query<{ body: string }>("SELECT body FROM notifications WHERE person_id = $1 AND kind = 'certificate'", [dose1.person.id])).rows[0]!.body;
    assert.ok(sms && stored.startsWith(sms.replace('[link]', '').slice(0, 20)), `the SMS text is shown: ${sms}`);
    assert.ok(await events.locator('[data-type="sms_submitted"] .op-raw').count() >= 1, 'the gateway answer verbatim');
    assert.ok(!(await events.textContent())?.includes('/c/'), 'the certificate link is masked for support without reveal');
    await page.getByRole('link', { name: /Tampilkan NIK, nomor HP dan tautan lengkap/ }).click();
    await page.waitForFunction((nik) => document.querySelector('[data-testid="person-identifier"]')?.textContent?.trim() === nik, rina.nik);
    const audited = await server.db.db.query("SELECT 1 FROM audit_log WHERE action = 'person_viewed_revealed' AND person_id = $1", [dose1.person.id]);
    assert.equal(audited.rowCount, 1, 'the full view is audited');
    await screenshot(page, 'console-ops-timeline');
  });

  it('finds both records by name, spelt differently, with the birth date, and by phone', async () => {
    await page.goto(server.url + '/console/people');
    await page.getByLabel('NIK, nomor HP, atau nama').fill('rina wulandary');
    await page.getByLabel('Tanggal lahir (tidak wajib)').fill('1988-04-12');
    await page.getByRole('button', { name: 'Cari', exact: true }).click();
    const rows = page.getByTestId('search-results').locator('tbody tr');
    await rows.first().waitFor();
    assert.equal(await rows.count(), 2);
    assert.equal(new URL(page.url()).searchParams.get('q'), 'rina wulandary', 'the search is in the URL');
    await screenshot(page, 'console-ops-search-name');
    // By phone, written another way than at entry.
    await page.getByLabel('NIK, nomor HP, atau nama').fill('+62 812 7000 1111');
    await page.getByLabel('Tanggal lahir (tidak wajib)').fill('');
    await page.getByRole('button', { name: 'Cari', exact: true }).click();
    await page.waitForFunction(() => new URL(location.href).searchParams.get('q') === '+62 812 7000 1111');
    await page.getByTestId('search-results').waitFor();
    assert.equal(await page.getByTestId('search-results').locator('tbody tr').count(), 2);
  });

  it('merges the second record into the first: one person with doses 1 and 2', async () => {
    await page.goto(`${server.url}/console/people/${dose1.person.id}`);
    await page.getByRole('button', { name: 'Gabungkan data lain orang ini ke sini' }).click();
    await page.getByLabel('NIK atau id data yang lain').fill(rinaTypo.nik);
    await page.getByRole('button', { name: 'Cari data itu' }).click();
    assert.match((await page.getByTestId('merge-candidate').textContent()) ?? '', /Rina Wulandari, lahir 1988-04-12, 1 dosis/);
    await page.getByRole('button', { name: 'Gabungkan', exact: true }).click();
    assert.match((await page.locator('.op-confirm').textContent()) ?? '', /Tidak dapat dibatalkan/);
    await screenshot(page, 'console-ops-merge-confirm');
    await page.getByRole('button', { name: 'Ya, lanjutkan' }).click();
    await page.getByText(/Digabung: sekarang 2 dosis/).waitFor();
    // The merge is in the timeline with the staff member who did it.
    await page.locator('[data-type="people_merged"]', { hasText: 'support:bantuan' }).waitFor();
    const doses = page.getByTestId('doses').locator('li');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="doses"] > li').length === 2);
    assert.match((await doses.nth(0).textContent()) ?? '', /Dosis 1 · CoronaVac · 1 Juli 2021/);
    assert.match((await doses.nth(1).textContent()) ?? '', /Dosis 2 · CoronaVac · 1 Agustus 2021/);
    const merged = await server.db.db.query<{ merged_into: string }>('SELECT merged_into FROM people WHERE id = $1', [dose2.person.id]);
    assert.equal(merged.rows[0]?.merged_into, dose1.person.id);
    await screenshot(page, 'console-ops-merged');
  });

  it('merges a possible duplicate from the work list', async () => {
    const agus = person({ name: 'Agus Salim', sex: 'M', birthDate: '1969-12-30' });
    const first = await recordDose(server, { person: agus, facility: facA, body: { doseNumber: 1, date: '2021-06-01' } });
    const second = await recordDose(server, { person: person({ name: 'Agus Salim', sex: 'M', birthDate: '1969-12-30' }), facility: facA, body: { doseNumber: 2, date: '2021-07-01' } });
    await page.goto(server.url + '/console/work?kind=possible_duplicate');
    const card = page.locator(`[data-person="${second.person.id}"]`);
    await card.waitFor();
    assert.match((await card.textContent()) ?? '', /Data lain: Agus Salim/);
    await card.getByRole('button', { name: 'Gabungkan kedua data' }).click();
    await card.getByRole('button', { name: 'Ya, lanjutkan' }).click();
    await page.getByTestId('settled').waitFor();
    const merged = await server.db.db.query<{ merged_into: string | null }>('SELECT merged_into FROM people WHERE id = $1', [first.person.id]);
    assert.equal(merged.rows[0]?.merged_into, second.person.id, 'the other record is merged into the one the case is about');
    await page.goto(`${server.url}/console/people/${second.person.id}`);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="doses"] > li').length === 2);
  });

  it('corrects a phone from the work list: the case leaves the list and the SMS goes to the new number', async () => {
    await signIn('pkm-a');
    await page.goto(server.url + '/console/work?kind=invalid_phone');
    const card = page.locator(`[data-person="${nophone.person.id}"]`);
    await card.waitFor();
    await screenshot(page, 'console-ops-work-invalid-phone');
    await card.getByRole('button', { name: 'Perbaiki nomor HP' }).click();
    // A number that cannot be one: the API's refusal, naming the field.
    await card.getByLabel('Nomor HP baru').fill('12345');
    await card.getByRole('button', { name: 'Ya, lanjutkan' }).click();
    const alert = card.getByRole('alert');
    await alert.waitFor();
    assert.match((await alert.textContent()) ?? '', /Ditolak \(422\):.*phone/s);
    await screenshot(page, 'console-ops-work-refused');
    await card.getByLabel('Nomor HP baru').fill('0812 5555 1234');
    await card.getByRole('button', { name: 'Ya, lanjutkan' }).click();
    await card.waitFor({ state: 'detached' });
    assert.equal(await page.getByTestId('settled').textContent(), 'Selesai: Yohanes Tanpa Nomor. Kasusnya ditutup.');
    await worker.drain();
    const sink = await server.rt.app.inject({ method: 'GET', url: '/api/v1/sms/sink?limit=200', headers: bearer(ADMIN_TOKEN) });
    const sent = (sink.json().messages as { to: string; text: string }[]).filter((m) => m.to === '+6281255551234');
    assert.equal(sent.length, 1, 'the certificate SMS, once, to the corrected number');
    assert.match(sent[0]!.text, /\/c\//);
  });

  it('a district confirms a dose held for a name that did not match: the certificate SMS goes to the number on record; the new number shows masked', async () => {
    const tono = person({ name: 'Tono Prasetyo', sex: 'M', birthDate: '1979-02-14', phone: '0812-7300-4400' });
    const first = await recordDose(server, { person: tono, facility: facA });
    // Another facility, which never vaccinated Tono, sends a dose for his NIK under another name and phone.
    const facC = await facilityWithToken(server.db.db, '317102');
    const held = await server.rt.app.inject({
      method: 'POST',
      url: '/api/v1/vaccinations',
      headers: bearer(facC.token),
      payload: doseBody({ ...tono, name: 'Anton Wijaya', phone: '0857-7300-9900' }, { doseNumber: 2, date: '2021-07-08' }),
    });
    assert.equal(held.statusCode, 201, held.body);
    assert.equal(held.json().vaccination.held, 'identity_review');
    await signIn('dinkes-jakut');
    await page.goto(server.url + '/console/work?kind=phone_change');
    const change = page.locator(`[data-person="${first.person.id}"]`);
    await change.waitFor();
    assert.match((await change.textContent()) ?? '', /\+62 857-\*\*\*\*-9900/);
    assert.ok(!((await change.textContent()) ?? '').includes('85773009900'), 'a district sees the number masked');
    await page.goto(server.url + '/console/work?kind=name_mismatch');
    const card = page.locator(`[data-person="${first.person.id}"]`);
    await card.waitFor();
    assert.match((await card.textContent()) ?? '', /Anton Wijaya/);
    await screenshot(page, 'console-ops-work-name-mismatch');
    await card.getByRole('button', { name: 'Benar orang ini' }).click();
    await card.getByLabel('Dasar keputusan').fill('KTP dilihat di puskesmas');
    await card.getByRole('button', { name: 'Ya, lanjutkan' }).click();
    await card.waitFor({ state: 'detached' });
    await worker.drain();
    const sink = await server.rt.app.inject({ method: 'GET', url: '/api/v1/sms/sink?limit=500', headers: bearer(ADMIN_TOKEN) });
    const sent = (sink.json().messages as { to: string }[]).filter((m) => m.to === '+6281273004400');
    assert.equal(sent.length, 2, 'dose 1’s certificate SMS, then the released one, both to the number on record');
  });

  it('replays a dead job from the work list: the SMS it failed to send goes out', async () => {
    // A notify job that died (as after its last attempt), for Rina's newest certificate.
    const cert = await server.db.db.query<{ id: string }>("SELECT id FROM certificates WHERE person_id = $1 AND status = 'valid' ORDER BY issued_at DESC LIMIT 1", [dose1.person.id]);
    const dead = await server.db.db.query<{ id: number }>(
      `INSERT INTO jobs (kind, payload, dedupe_key, status, attempts, last_error, person_id)
       VALUES ('notify', $1::jsonb, $2, 'dead', 10, 'gateway down (test)', $3) RETURNING id`,
      [JSON.stringify({ personId: dose1.person.id, certificateId: cert.rows[0]!.id }), `notify:${cert.rows[0]!.id}:test-dead`, dose1.person.id],
    );
    const before = (await server.db.db.query("SELECT 1 FROM sms_sink WHERE recipient = '+6281270001111'")).rowCount;
    await signIn('bantuan');
    await page.goto(server.url + '/console/work?kind=dead_jobs');
    const jobs = page.getByTestId('dead-jobs');
    await jobs.getByText(`#${dead.rows[0]!.id}`).waitFor();
    assert.match((await jobs.textContent()) ?? '', /gateway down \(test\)/);
    await screenshot(page, 'console-ops-dead-jobs');
    await page.getByRole('button', { name: 'Jalankan lagi semua' }).click();
    await page.getByRole('button', { name: 'Ya, lanjutkan' }).click();
    await page.getByText('Tidak ada tugas gagal.').waitFor();
    await worker.drain();
    const after = (await server.db.db.query("SELECT 1 FROM sms_sink WHERE recipient = '+6281270001111'")).rowCount;
    assert.equal(after, before + 1, 'one more SMS to Rina');
  });

  it('shows the pipeline counts the database holds, with charts and their numbers', async () => {
    await signIn('pusat');
    // A gateway outage as the workers write it (health.ts): the dashboard says so, with the SMS waiting.
    await server.db.db.query("UPDATE sms_routes SET state = 'open', since = now(), last_failure_at = now(), last_error = 'sink: ECONNREFUSED' WHERE route = 'sink'");
    await page.goto(server.url + '/console/dashboard');
    await page.getByTestId('stage-recorded').waitFor();
    const gateways = page.getByTestId('gateways');
    await gateways.locator('[data-route-down="sink"]').waitFor();
    assert.match((await gateways.locator('[data-route-down="sink"]').textContent()) ?? '', /Gateway SMS sink tidak menjawab sejak \d\d:\d\d:\d\d UTC: 0 SMS menunggu/);
    assert.equal(await gateways.locator('tr[data-route="sink"]').getAttribute('data-state'), 'open');
    assert.match((await gateways.locator('tr[data-route="sink"]').textContent()) ?? '', /ECONNREFUSED/);
    await server.db.db.query("UPDATE sms_routes SET state = 'closed', since = now() WHERE route = 'sink'");
    // Events as they happened: every dose entered, every dose that got a certificate (re-issues not counted again).
    const recorded = await sql('SELECT count(*)::int8 AS n FROM vaccinations');
    const certified = await sql('SELECT count(DISTINCT (person_id, vaccination_id))::int8 AS n FROM certificates');
    const delivered = await sql("SELECT count(*)::int8 AS n FROM notifications WHERE kind = 'certificate' AND status = 'delivered'");
    assert.equal(Number(await page.getByTestId('stage-recorded').textContent()), recorded);
    assert.equal(Number(await page.getByTestId('stage-certified').textContent()), certified);
    if (delivered > 0) assert.equal(Number(await page.getByTestId('stage-sms_delivered').textContent()), delivered);
    assert.equal(Number(((await page.locator(`[data-testid="per-facility"] [data-facility="${facA.code}"] [data-col="recorded"]`).textContent()) ?? '').replace(/\D/g, '')), await sql('SELECT count(*)::int8 AS n FROM vaccinations WHERE facility_code = $1', [facA.code]));
    // The charts: a line per stage, and the same numbers as a table; every dose was recorded within the last 24 hours.
    const chart = page.getByTestId('chart-throughput');
    assert.equal(await chart.locator('polyline').count(), 6);
    const cells = await chart.locator('td[data-series="recorded"]').allTextContents();
    assert.equal(cells.reduce((n, c) => n + Number(c), 0), recorded);
    assert.equal(await page.getByTestId('chart-backlog').locator('polyline').count(), 3);
    await screenshot(page, 'console-ops-dashboard');
    // Narrowed to one facility.
    await page.getByLabel('Fasyankes', { exact: true }).selectOption(facB.code);
    await page.waitForFunction(() => /facility=/.test(location.search));
    await page.getByTestId('chart-throughput').locator('figcaption', { hasText: `Fasyankes ${facB.code}` }).waitFor();
    const bCells = await page.getByTestId('chart-throughput').locator('td[data-series="recorded"]').allTextContents();
    assert.equal(bCells.reduce((n, c) => n + Number(c), 0), 1);
  });

  it("keeps each role to its scope: another facility's person is a 404 page, a district sees masked identifiers", async () => {
    await signIn('pkm-b');
    await page.goto(`${server.url}/console/people/${dose1.person.id}`);
    await page.getByTestId('person-not-found').waitFor();
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Orang tidak ditemukan');
    assert.ok(!((await page.content()).includes('Wulandari')), 'nothing of the person shows');
    await screenshot(page, 'console-ops-scope-404');

    await signIn('dinkes-jakut');
    await page.goto(`${server.url}/console/people?q=${rina.nik}`);
    await page.getByTestId('search-results').waitFor();
    const row = (await page.getByTestId('search-results').locator('tbody tr').first().textContent()) ?? '';
    assert.ok(row.includes(maskNik(rina.nik)), `masked NIK in ${row}`);
    assert.ok(!row.includes(rina.nik) && !row.includes('70001111'), 'neither the NIK nor the phone whole');
    await page.getByTestId('search-results').getByRole('link').first().click();
    await page.getByTestId('person-identifier').waitFor();
    assert.equal((await page.getByTestId('person-identifier').textContent())?.trim(), maskNik(rina.nik));
    assert.match((await page.getByTestId('person-phone').textContent()) ?? '', /\*\*\*\*/);
    assert.equal(await page.getByRole('button', { name: 'Batalkan dosis' }).count(), 0, 'a district cannot void, so it is not offered');
    assert.equal(await page.getByRole('button', { name: 'Gabungkan data lain orang ini ke sini' }).count(), 0);
    await screenshot(page, 'console-ops-district-masked');
  });

  it('fits a 360-px phone for facility staff, and speaks English after the switch', async () => {
    await signIn('pkm-a');
    await page.setViewportSize(PHONE);
    for (const path of [`/console/people?q=${encodeURIComponent(rina.nik)}`, `/console/people/${dose1.person.id}`, '/console/work', '/console/dashboard']) {
      await page.goto(server.url + path);
      await page.getByRole('heading', { level: 1 }).first().waitFor();
      await page.locator('.op-page').waitFor();
      await page.waitForLoadState('networkidle');
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= PHONE.width, `${path} is ${width} px wide`);
    }
    await screenshot(page, 'console-ops-phone-dashboard');
    await page.goto(`${server.url}/console/people/${dose1.person.id}`);
    await page.getByTestId('doses').waitFor();
    await screenshot(page, 'console-ops-phone-timeline');
    await page.getByRole('button', { name: 'English' }).click();
    await page.getByRole('heading', { name: 'Doses' }).waitFor();
    assert.match((await page.getByTestId('doses').textContent()) ?? '', /Dose 1 \(1 July 2021\) is recorded and its certificate is issued/);
    await page.getByRole('button', { name: 'Bahasa Indonesia' }).click();
    await page.setViewportSize(WIDE);
  });

  it('made no request outside the server and threw no page errors', () => {
    assert.deepEqual(outside, []);
    assert.deepEqual(errors, []);
  });
});
