/**
 * The console's request pages in real Chromium: support approves a citizen's
 * phone change request (filed through the public API with the code from the
 * SMS sink) and the certificate SMS goes to the new number; a facility enters
 * a missing dose a citizen reported and the dose is recorded with its
 * certificate; a facility confirms a claimed earlier dose from the work list;
 * a facility is not offered the support-only page, and its API refuses it.
 * Screenshots in test-results/screenshots/console-ops-requests-*.png.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { Worker } from '../../src/notify/outbox.ts';
import { createAccount } from '../../src/access/accounts.ts';
import { createDoseRequest } from '../../src/records/dose-requests.ts';
import { ADMIN_TOKEN, bearer, facilityWithToken, person } from '../helpers/app.ts';
import { browserSkip, launchBrowser, recordDose, screenshot, startServer, type TestServer } from './helpers.ts';

const PASSWORD = 'kata-sandi-panjang-42';

describe('console request pages in Chromium', { skip: browserSkip }, () => {
  let server: TestServer;
  let worker: Worker;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  const errors: string[] = [];
  let fac: { code: string; token: string };
  const siti = person({ name: 'Siti Aminah', sex: 'F', birthDate: '1975-02-03', phone: '0812-4000-2222' });
  let dose: Awaited<ReturnType<typeof recordDose>>;

  const signIn = async (username: string): Promise<void> => {
    const r = await page.request.post(server.url + '/api/v1/session', { data: { username, password: PASSWORD } });
    assert.equal(r.status(), 200, await r.text());
  };
  const sinkTo = async (to: string): Promise<string[]> => {
    await worker.drain();
    const r = await server.rt.app.inject({ method: 'GET', url: '/api/v1/sms/sink?limit=200', headers: bearer(ADMIN_TOKEN) });
    return (r.json().messages as { to: string; text: string }[]).filter((m) => m.to === to).map((m) => m.text);
  };

  before(async () => {
    server = await startServer();
    worker = server.rt.deps.notify.worker({ pollMs: 10 });
    fac = await facilityWithToken(server.db.db, '317101');
    await createAccount(server.db.db, { username: 'bantuan', displayName: 'Bantuan', role: 'support', password: PASSWORD }, null);
    await createAccount(server.db.db, { username: 'pkm', displayName: 'Puskesmas', role: 'facility', facility: fac.code, password: PASSWORD }, null);
    dose = await recordDose(server, { person: siti, facility: fac, body: { doseNumber: 2, date: '2021-09-01' } });
    await worker.drain();
    browser = await launchBrowser({ viewport: { width: 1000, height: 900 } });
    page = await browser.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
  });
  after(async () => {
    await worker?.stop?.();
    await browser?.cleanup();
    await server?.stop();
  });

  it('support approves a phone change request and the certificate SMS goes to the new number', async () => {
    const filed = await server.rt.app.inject({
      method: 'POST',
      url: '/api/v1/public/phone-corrections',
      payload: { nik: siti.nik, birthDate: siti.birthDate, name: 'Siti Aminah', newPhone: '0813 5172 9046', note: 'HP lama hilang' },
    });
    assert.equal(filed.statusCode, 202, filed.body);
    const code = /\b(\d{6})\b/.exec((await sinkTo('+6281351729046')).pop() ?? '')?.[1];
    assert.ok(code, 'a code to the new number');
    const verified = await server.rt.app.inject({ method: 'POST', url: `/api/v1/public/phone-corrections/${filed.json().requestId}/verify`, payload: { code } });
    assert.equal(verified.statusCode, 200, verified.body);

    await signIn('bantuan');
    await page.goto(server.url + '/console/corrections');
    const card = page.locator('[data-testid="corrections"] > li').first();
    await card.waitFor();
    const text = (await card.textContent()) ?? '';
    assert.match(text, /Siti Aminah/);
    assert.match(text, /\+6281351729046/);
    assert.match(text, /HP lama hilang/);
    await screenshot(page, 'console-ops-requests-correction');
    await card.getByRole('button', { name: 'Setujui' }).click();
    await card.getByRole('button', { name: 'Ya, lanjutkan' }).click();
    await page.getByText('Tidak ada permintaan.').waitFor();
    const sent = await sinkTo('+6281351729046');
    assert.ok(sent.some((m) => m.includes('/c/')), `the certificate link goes to the new number: ${sent.join(' | ')}`);
    const phone = await server.db.db.query<{ phone: string }>('SELECT phone FROM people WHERE id = $1', [dose.person.id]);
    assert.equal(phone.rows[0]?.phone, '+6281351729046');
    await page.getByRole('link', { name: 'Disetujui' }).click();
    await page.locator('[data-testid="corrections"] > li').first().waitFor();
  });

  it('a facility enters a missing dose a citizen reported; it is recorded with a certificate', async () => {
    const request = await createDoseRequest(server.db.db, dose.person.id, { date: '2021-08-01', facility: fac.code, vaccine: 'CORONAVAC', doseNumber: 1 });
    await signIn('pkm');
    await page.goto(server.url + '/console/dose-requests');
    const card = page.locator(`[data-request="${request.id}"]`);
    await card.waitFor();
    assert.match((await card.textContent()) ?? '', /Dosis 1 · .* · 2021-08-01/);
    await screenshot(page, 'console-ops-requests-dose');
    await card.getByRole('button', { name: 'Catat dosis ini' }).click();
    await card.getByLabel('Nomor batch (tidak wajib)').fill('B777');
    await card.getByRole('button', { name: 'Ya, lanjutkan' }).click();
    await card.waitFor({ state: 'detached' });
    const v = await server.db.db.query<{ n: number }>(
      `SELECT count(*)::int8 AS n FROM vaccinations v JOIN certificates c ON c.person_id = v.person_id AND c.vaccination_id = v.id AND c.status = 'valid'
        WHERE v.person_id = $1 AND v.date = '2021-08-01' AND v.lot = 'B777' AND v.status <> 'void'`,
      [dose.person.id],
    );
    assert.equal(Number(v.rows[0]?.n), 1);
  });

  it("a facility confirms a claimed earlier dose on its evidence from the work list", async () => {
    const claim = await recordDose(server, { person: person({ name: 'Dewi Lestari' }), facility: fac, body: { doseNumber: 2, date: '2021-10-01' } });
    assert.equal(claim.vaccination.status, 'claims_prior_dose');
    await page.goto(server.url + '/console/work');
    const card = page.locator(`[data-person="${claim.person.id}"]`);
    await card.waitFor();
    await card.getByRole('button', { name: 'Konfirmasi dengan bukti' }).click();
    await card.getByLabel('Bukti (mis. kartu vaksin dilihat)').fill('kartu vaksin dilihat, dosis 1 di luar negeri');
    await card.getByRole('button', { name: 'Ya, lanjutkan' }).click();
    await page.getByTestId('settled').waitFor();
    const v = await server.db.db.query<{ status: string }>('SELECT status FROM vaccinations WHERE id = $1', [claim.vaccination.id]);
    assert.equal(v.rows[0]?.status, 'recorded');
  });

  it('the support-only page is not offered to a facility, whose API refuses it too', async () => {
    const nav = page.getByRole('navigation', { name: 'Menu konsol' });
    await nav.getByRole('link', { name: 'Dosis hilang' }).waitFor();
    assert.equal(await nav.getByRole('link', { name: 'Ganti nomor HP' }).count(), 0);
    await page.goto(server.url + '/console/corrections');
    await page.getByRole('heading', { name: 'Tidak tersedia untuk peran Anda' }).waitFor();
    const r = await page.request.get(server.url + '/api/v1/phone-corrections');
    assert.equal(r.status(), 403);
    assert.deepEqual(errors, []);
  });
});
