/**
 * A dose SATUSEHAT refused, as the support desk meets it on a 360×740 phone in
 * Chromium (issue 21 with issue 17's words): the work list's tab is named in
 * words with its count, the case says why in words (the peer's
 * OperationOutcome), the person page says the dose's state in SATUSEHAT, and
 * "Kirim lagi ke SATUSEHAT" sends it again: once the peer accepts it, the dose
 * is in the peer exactly once and the page says so with its national id. The
 * peer is the FHIR server of test/helpers/satusehat-peer.ts (@medplum/fhir-router).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { Immunization } from '@medplum/fhirtypes';
import type { Worker } from '../../src/notify/outbox.ts';
import { createAccount } from '../../src/access/accounts.ts';
import { facilityWithToken, person } from '../helpers/app.ts';
import { SatusehatPeer, byVaccination, peerOutcome } from '../helpers/satusehat-peer.ts';
import { browserSkip, launchBrowser, recordDose, screenshot, startServer, watchedPage, type TestServer } from './helpers.ts';

const PASSWORD = 'kata-sandi-layanan-2024';
const PHONE_740 = { width: 360, height: 740 };
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

describe('a dose SATUSEHAT refused, in the console on a 360×740 phone', { skip: browserSkip }, () => {
  let peer: SatusehatPeer;
  let server: TestServer;
  let worker: Worker;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  const errors: string[] = [];
  const outside: string[] = [];
  let dose: Awaited<ReturnType<typeof recordDose>>;

  /** Runs the worker until no hand-off job waits. */
  const settle = async (): Promise<void> => {
    const end = Date.now() + 60_000;
    for (;;) {
      await worker.drain();
      const r = await server.db.db.query<{ n: number }>("SELECT count(*)::int8 AS n FROM jobs WHERE kind = 'satusehat_sync' AND status = 'pending'");
      if (Number(r.rows[0]!.n) === 0) return;
      assert.ok(Date.now() < end, 'hand-off jobs still pending after 60 s');
      await new Promise((res) => setTimeout(res, 100));
    }
  };

  before(async () => {
    peer = await SatusehatPeer.start();
    server = await startServer({ ...peer.env(), SATUSEHAT_RETRY_BASE_MS: '100', SATUSEHAT_RETRY_MAX_MS: '800' });
    worker = server.rt.deps.notify.worker({ pollMs: 10 });
    const db = server.db.db;
    const fac = await facilityWithToken(db, '317101');
    await db.query("UPDATE facilities SET name = 'Puskesmas Cilincing', satusehat_location_id = 'LOC-1' WHERE code = $1", [fac.code]);
    await db.query("INSERT INTO vaccine_lots (vaccine, lot_key, lot, expires_on) VALUES ('CORONAVAC', 'BAD-LOT', 'BAD-LOT', '2022-12-31') ON CONFLICT DO NOTHING");
    await createAccount(db, { username: 'bantuan', displayName: 'Layanan Bantuan', role: 'support', password: PASSWORD, facility: null, region: null }, null);
    peer.reject((imm) => (imm.lotNumber === 'BAD-LOT' ? peerOutcome('business-rule', 'Nomor batch tidak terdaftar di KFA', 'Immunization.lotNumber') : null));
    const p = person({ name: 'Rina Kartika' });
    await peer.addPatient(p.nik, p.name);
    dose = await recordDose(server, { person: p, facility: fac, body: { lot: 'BAD-LOT' } });
    await settle();
    browser = await launchBrowser({ viewport: PHONE_740 });
    page = await watchedPage(browser, server.url, outside, errors);
    const r = await page.request.post(server.url + '/api/v1/session', { data: { username: 'bantuan', password: PASSWORD } });
    assert.equal(r.status(), 200, await r.text());
  });
  after(async () => {
    if (errors.length) console.log('page errors:', errors);
    await worker?.stop?.();
    await browser?.cleanup();
    await server?.stop();
    await peer?.close();
  });

  it('the work list names the tab and says why SATUSEHAT refused, in words; the person page says it too', async () => {
    await page.goto(`${server.url}/console/work?kind=satusehat_rejected`);
    const cases = page.getByTestId('cases');
    await cases.waitFor();
    // The tabs' counts arrive in an answer of their own, possibly after the list: wait for the tab, then count it.
    const tab = page.getByRole('link', { name: 'Ditolak SATUSEHAT (1)' });
    await tab.waitFor({ timeout: 10_000 }).catch(() => undefined);
    assert.equal(await tab.count(), 1, 'the tab in words, with its count');
    const text = await cases.evaluate((el) => (el as HTMLElement).innerText);
    assert.match(text, /SATUSEHAT menolak dosis ini: .*Nomor batch tidak terdaftar di KFA/);
    assert.doesNotMatch(text, UUID, 'no raw ids outside the folded detail');
    assert.doesNotMatch(text, /satusehat_rejected/);
    await screenshot(page, 'console-satusehat-rejected');

    await page.goto(`${server.url}/console/people/${dose.person.id}`);
    const sync = page.getByTestId('dose-satusehat');
    await sync.waitFor();
    assert.equal(await sync.getAttribute('data-sync'), 'rejected');
    assert.match((await sync.textContent()) ?? '', /^Ditolak SATUSEHAT: .*Nomor batch tidak terdaftar di KFA.*daftar kerja "Ditolak SATUSEHAT"/);
  });

  it('"Kirim lagi ke SATUSEHAT" sends it again: in the peer once, the case closed, the page says "Sudah di SATUSEHAT" with the id', async () => {
    peer.reject(null);
    await page.goto(`${server.url}/console/work?kind=satusehat_rejected`);
    const cases = page.getByTestId('cases');
    await cases.waitFor();
    await cases.getByRole('button', { name: 'Kirim lagi ke SATUSEHAT' }).click();
    assert.match((await cases.locator('.op-confirm').textContent()) ?? '', /akan dikirim lagi ke SATUSEHAT/);
    await cases.getByRole('button', { name: 'Ya, lanjutkan' }).click();
    // The case leaves the list; what was done is said above it.
    await page.getByTestId('settled').getByText('Selesai: Rina Kartika. Kasusnya ditutup.').waitFor();
    await settle();
    const held = byVaccination(await peer.all<Immunization>('Immunization')).get(dose.vaccination.id as string) ?? [];
    assert.equal(held.length, 1, 'in the peer exactly once');
    const open = await server.db.db.query<{ n: number }>("SELECT count(*)::int8 AS n FROM cases WHERE kind = 'satusehat_rejected' AND status = 'open'");
    assert.equal(Number(open.rows[0]!.n), 0);

    await page.goto(`${server.url}/console/people/${dose.person.id}`);
    const sync = page.getByTestId('dose-satusehat');
    await sync.waitFor();
    assert.equal(await sync.getAttribute('data-sync'), 'synced');
    assert.equal((await sync.textContent()) ?? '', `Sudah di SATUSEHAT (Immunization ${held[0]!.id}).`);
  });

  it('made no request outside the site, and no script error', () => {
    assert.deepEqual(outside, []);
    assert.deepEqual(errors, []);
  });
});
