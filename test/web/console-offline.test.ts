/**
 * The offline journey, in real Chromium at phone width: a nurse signs in,
 * the network goes (`context.setOffline(true)`), the console still opens from
 * its service worker, 20 doses are entered and kept on the device (plus two
 * the server will refuse), the count of entries waiting is shown; the network
 * returns, the sync is cut off once after the server recorded a dose but
 * before the answer arrived, and is retried with the same Idempotency-Key.
 * In the end exactly 20 doses are recorded, once each, each with its
 * certificate; the refused entries are shown with the server's reasons until
 * one is discarded and the other fixed (and then recorded). Screenshots in test-results/screenshots/console-offline-*.png.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { facilityWithToken, person } from '../helpers/app.ts';
import { browserSkip, launchBrowser, screenshot, startServer, type TestServer } from './helpers.ts';
import { consoleAccount, CONSOLE_PASSWORD, signInConsole } from './console-helpers.ts';

const DOSES = 20;

describe('console: 20 doses offline, then one sync (interrupted and retried)', { skip: browserSkip }, () => {
  let server: TestServer;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  let facility: { code: string };
  const people = Array.from({ length: DOSES }, (_, i) => person({ name: `Warga Luring ${String(i + 1).padStart(2, '0')}` }));
  const errors: string[] = [];

  before(async () => {
    server = await startServer();
    facility = await facilityWithToken(server.db.db, '317101');
    browser = await launchBrowser();
    // The pages' timers, faked but running in real time: the sync test moves the retry timer's time on instead of waiting 15 s for it.
    await browser.clock.install();
    page = await browser.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
  });
  after(async () => {
    await browser?.cleanup();
    await server?.stop();
  });

  const waitingChip = async (n: number): Promise<void> => {
    await page.locator('[data-testid=pending-count]', { hasText: `${n} menunggu` }).waitFor();
  };

  let nurse: { username: string };

  it('signs in online; the service worker keeps the console for offline use', async () => {
    nurse = await consoleAccount(server, 'facility', { facility: facility.code }, 'Perawat Desa');
    await signInConsole(page, server, nurse.username, undefined, '/console/record');
    await page.evaluate(async () => {
      await navigator.serviceWorker.ready;
    });
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null || location.reload() === undefined);
  });

  it('opens with the network off and keeps 20 entered doses (and two repeats) on the device', async () => {
    await browser.setOffline(true);
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Catat Dosis' }).waitFor();
    await page.getByTestId('offline-bar').waitFor();
    assert.equal(await page.getByTestId('submit-dose').textContent(), 'Simpan di perangkat');
    await page.getByLabel('Vaksin', { exact: true }).selectOption('CORONAVAC');
    await page.getByLabel('Tanggal vaksinasi').fill('2021-06-10');
    await page.getByLabel('Nomor batch').fill('CV2106');
    /** The form is ready for the next person: not saving, NIK empty. */
  const formReady = () => page.waitForFunction(() => !document.querySelector<HTMLButtonElement>('[data-testid=submit-dose]')?.disabled && document.querySelector<HTMLInputElement>('#f-nik')?.value === '');
  const enter = async (p: (typeof people)[number], n: number): Promise<void> => {
      await formReady();
      await page.getByLabel('NIK').fill(p.nik);
      await page.getByLabel('Nama lengkap').fill(p.name);
      await page.getByLabel('Tanggal lahir').fill(p.birthDate);
      await page.getByText(p.sex === 'M' ? 'Laki-laki' : 'Perempuan').click();
      await page.getByLabel('Nomor HP').fill(p.phone);
      await page.getByTestId('submit-dose').click();
      await waitingChip(n).catch(async (e: unknown) => {
        await screenshot(page, 'console-offline-failed-entry');
        throw e;
      });
    };
    for (const [i, p] of people.entries()) await enter(p, i + 1);
    // The first two people's doses once more: fine on the form, refused by the server as repeats.
    await enter(people[0]!, DOSES + 1);
    await enter(people[1]!, DOSES + 2);
    assert.match((await page.getByTestId('saved-offline').textContent()) ?? '', /Tersimpan di perangkat ini/);
    await screenshot(page, 'console-offline-entered');
    const none = await server.db.db.query<{ n: number }>('SELECT count(*)::int AS n FROM vaccinations');
    assert.equal(none.rows[0]!.n, 0, 'nothing reached the server while offline');
    await page.goto(server.url + '/console/pending').catch(() => undefined);
    await page.getByTestId('waiting-count').waitFor();
    assert.equal(await page.getByTestId('waiting-count').textContent(), String(DOSES + 2));
    await screenshot(page, 'console-offline-queue');
  });

  it('syncs when the network returns; a sync cut off after the server recorded a dose is retried with the same key', async () => {
    // The 5th send: the server records it, then the connection drops before the answer reaches the page.
    let sends = 0;
    let cutKey: string | undefined;
    let cutDone!: () => void;
    const wasCut = new Promise<void>((resolve) => (cutDone = resolve));
    await page.route('**/api/v1/vaccinations', async (route) => {
      sends++;
      if (sends !== 5) return route.continue();
      cutKey = route.request().headers()['idempotency-key'];
      const answer = await route.fetch();
      assert.equal(answer.status(), 201);
      await route.abort('connectionreset');
      cutDone();
    });
    await browser.setOffline(false);
    // The cut stops the sync (the entry stays waiting, its try counted); the retry timer (RETRY_MS, 15 s)
    // takes it up again, and the rest goes through. The timer's time is moved on rather than waited for:
    // only the timer sends again (the page is online all along), so without it nothing is retried. Moved
    // on again if the timer fell due while the cut sync was still winding up (a tick then joins that sync).
    await wasCut;
    await page.getByTestId('waiting-entry').locator('.hint').waitFor();
    const synced = page.locator('[data-testid=sent-count]', { hasText: String(DOSES) });
    for (let i = 0; i < 5 && !(await synced.isVisible()); i++) {
      await page.clock.fastForward(15_000);
      await synced.waitFor({ timeout: 10_000 }).catch(() => {});
    }
    await synced.waitFor({ timeout: 90_000 });
    await page.getByTestId('rejected-count').waitFor();
    assert.ok(cutKey, 'the fifth send was cut off');
    assert.ok(sends > DOSES + 2, `the cut-off dose was sent again (${sends} sends)`);
    await page.unroute('**/api/v1/vaccinations');
    // The console was opened offline; back online it has checked the session.
    await page.getByTestId('unverified-bar').waitFor({ state: 'detached' });

    // Exactly 20 doses, once each, each with its certificate.
    const r = await server.db.db.query<{ nik: string; n: number; certs: number; keys: number }>(
      `SELECT p.id_value AS nik, count(DISTINCT v.id)::int AS n, count(DISTINCT c.id)::int AS certs, count(DISTINCT v.idempotency_key)::int AS keys
         FROM vaccinations v JOIN people p ON p.id = v.person_id
         LEFT JOIN certificates c ON c.person_id = v.person_id AND c.vaccination_id = v.id AND c.status = 'valid'
        WHERE v.facility_code = $1 GROUP BY p.id_value`,
      [facility.code],
    );
    assert.equal(r.rowCount, DOSES);
    assert.deepEqual(new Set(r.rows.map((x) => x.nik)), new Set(people.map((p) => p.nik)));
    for (const row of r.rows) assert.deepEqual({ n: row.n, certs: row.certs, keys: row.keys }, { n: 1, certs: 1, keys: 1 }, row.nik);
    const cut = await server.db.db.query<{ n: number }>('SELECT count(*)::int AS n FROM vaccinations WHERE idempotency_key = $1', [cutKey]);
    assert.equal(cut.rows[0]!.n, 1, 'the interrupted dose is recorded once');
    await screenshot(page, 'console-offline-synced');
  });

  it('shows the refused entries with the server’s reasons until they are fixed or discarded', async () => {
    const refused = page.getByTestId('rejected-entry');
    assert.equal(await refused.count(), 2);
    for (const [i, p] of people.slice(0, 2).entries()) {
      assert.match((await refused.nth(i).textContent()) ?? '', new RegExp(p.nik));
      assert.match((await refused.nth(i).locator('.reasons').textContent()) ?? '', /sudah tercatat|sudah ada|already/i);
    }
    await screenshot(page, 'console-offline-refused');
    // Discard the second person's repeat…
    page.once('dialog', (d) => void d.accept());
    await refused.filter({ hasText: people[1]!.nik }).getByRole('button', { name: 'Buang' }).click();
    await page.locator('[data-testid=rejected-count]', { hasText: '1' }).waitFor();
    // …and fix the first one's: it was their second dose, a month later.
    await refused.getByRole('link', { name: 'Perbaiki' }).click();
    await page.getByRole('heading', { level: 1, name: 'Catat Dosis' }).waitFor();
    // The entry comes from the device's queue (IndexedDB) after the form shows: wait for it to fill in.
    await page.waitForFunction((nik) => (document.getElementById('f-nik') as HTMLInputElement | null)?.value === nik, people[0]!.nik, { timeout: 10_000 }).catch(() => {});
    assert.equal(await page.getByLabel('NIK').inputValue(), people[0]!.nik);
    await page.getByLabel('Dosis ke-').selectOption('2');
    await page.getByLabel('Tanggal vaksinasi').fill('2021-07-08');
    await page.getByTestId('submit-dose').click();
    await page.getByTestId('dose-result').waitFor();
    await page.getByTestId('pending-count').waitFor({ state: 'detached' });
    const total = await server.db.db.query<{ n: number }>('SELECT count(*)::int AS n FROM vaccinations');
    assert.equal(total.rows[0]!.n, DOSES + 1);
    const first = await server.db.db.query<{ dose_number: number }>(
      'SELECT v.dose_number FROM vaccinations v JOIN people p ON p.id = v.person_id WHERE p.id_value = $1 ORDER BY v.dose_number',
      [people[0]!.nik],
    );
    assert.deepEqual(first.rows.map((r) => r.dose_number), [1, 2]);
  });

  it('keeps entries through a session that ended meanwhile: signing in again sends them', async () => {
    await browser.setOffline(true);
    await page.goto(server.url + '/console/record').catch(() => undefined);
    await page.getByTestId('offline-bar').waitFor();
    const late = person({ name: 'Warga Terlambat' });
    await page.getByLabel('NIK').fill(late.nik);
    await page.getByLabel('Nama lengkap').fill(late.name);
    await page.getByLabel('Tanggal lahir').fill(late.birthDate);
    await page.getByText(late.sex === 'M' ? 'Laki-laki' : 'Perempuan').click();
    await page.getByLabel('Nomor HP').fill(late.phone);
    await page.getByLabel('Vaksin', { exact: true }).selectOption('CORONAVAC');
    await page.getByLabel('Tanggal vaksinasi').fill('2021-06-11');
    await page.getByTestId('submit-dose').click();
    await waitingChip(1);
    // Hours offline: the session ended on the server.
    await server.db.db.query("UPDATE staff_sessions SET expires_at = now() - interval '1 second'");
    await browser.setOffline(false);
    await page.getByText('Sesi Anda telah berakhir').waitFor();
    const none = await server.db.db.query<{ n: number }>('SELECT count(*)::int AS n FROM people WHERE id_value = $1', [late.nik]);
    assert.equal(none.rows[0]!.n, 0);
    await page.getByLabel('Nama pengguna').fill(nurse.username);
    await page.getByLabel('Kata sandi').fill(CONSOLE_PASSWORD);
    await page.getByRole('button', { name: 'Masuk' }).click();
    await page.getByTestId('user-name').waitFor();
    // The queue is read back from the device after the sign-in: its chip may not show yet when the
    // name does (the chip's absence then says nothing), so wait for the dose itself, with a deadline.
    const sent = async () =>
      (await server.db.db.query<{ n: number }>('SELECT count(*)::int AS n FROM vaccinations v JOIN people p ON p.id = v.person_id WHERE p.id_value = $1', [late.nik])).rows[0]!.n;
    const deadline = Date.now() + 15_000;
    while ((await sent()) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await sent(), 1);
    await page.getByTestId('pending-count').waitFor({ state: 'detached' });
  });

  it('raised no script error', () => {
    assert.deepEqual(errors, []);
  });
});
