/**
 * The verifier page (/verify) in real Chromium at phone width: a Dosis
 * certificate verifies (pasted, from an uploaded picture, and from the
 * camera); a tampered one is rejected with its reason in both languages; an
 * expired one says so; a certificate of another country verifies once its
 * signer is imported, and not before; after the first visit it keeps working
 * with the network cut and with the server gone. Screenshots are saved in
 * test-results/screenshots/.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { deflateSync, inflateSync } from 'node:zlib';
import { toBuffer } from 'qrcode';
import type { Page } from 'playwright-core';
import { base45Decode, base45Encode } from '../../src/certificates/base45.ts';
import { verifyHc1 } from '../../src/certificates/hc1.ts';
import { kidOf } from '../../src/certificates/keys.ts';
import { QUIET_ZONE, qrMatrix } from '../../src/certificates/qr-matrix.ts';
import { listCaseFiles, parseClock, readCase } from '../certificates/conformance-runner.ts';
import { person } from '../helpers/app.ts';
import { browserSkip, launchChromium, watchedPage, publishKeys, recordDose, screenshot, startServer, type TestServer } from './helpers.ts';

const TESTDATA = resolve(import.meta.dirname, '../conformance/eu-dcc/testdata');

/** The HC1 with one letter of the signed name changed and re-compressed: only the signature can tell. */
function tamper(qr: string, name: string): string {
  const cose = inflateSync(base45Decode(qr.slice(4)));
  const at = cose.indexOf(Buffer.from(name));
  assert.ok(at > 0, 'name found in the payload');
  cose[at] = 'X'.charCodeAt(0);
  return 'HC1:' + base45Encode(deflateSync(cose));
}

/** A valid vaccination certificate of another country from the EU corpus, with its signer and validation clock. */
function foreignCertificate(): { qr: string; certificate: string; now: Date; country: string; name: string } {
  for (const rel of listCaseFiles(TESTDATA)) {
    const c = readCase(TESTDATA, rel);
    if (!c.PREFIX || !c.TESTCTX.CERTIFICATE || !c.TESTCTX.VALIDATIONCLOCK || rel.startsWith('common')) continue;
    const der = new Uint8Array(Buffer.from(c.TESTCTX.CERTIFICATE, 'base64'));
    const now = parseClock(c.TESTCTX.VALIDATIONCLOCK);
    const r = verifyHc1(c.PREFIX, { trustList: [{ kid: kidOf(der), certificate: der }], now });
    const v = r.payload?.v?.[0];
    if (r.valid && v && r.payload?.nam.fn && v.co !== 'ID') {
      return { qr: c.PREFIX, certificate: c.TESTCTX.CERTIFICATE, now, country: v.co, name: r.payload.nam.fn };
    }
  }
  throw new Error('no valid vaccination certificate in the corpus');
}

/**
 * A Y4M video (what Chromium's fake camera plays) of a QR code on white:
 * 640×480, 4:2:0, a few identical frames.
 */
function qrVideo(text: string, path: string): void {
  const m = qrMatrix(text);
  const W = 640;
  const H = 480;
  const unit = Math.floor(440 / (m.size + 2 * QUIET_ZONE));
  const left = Math.floor((W - m.size * unit) / 2);
  const top = Math.floor((H - m.size * unit) / 2);
  const y = Buffer.alloc(W * H, 235);
  for (let r = 0; r < m.size; r++) {
    for (let c = 0; c < m.size; c++) {
      if (!m.modules[r * m.size + c]) continue;
      for (let dy = 0; dy < unit; dy++) y.fill(16, (top + r * unit + dy) * W + left + c * unit, (top + r * unit + dy) * W + left + (c + 1) * unit);
    }
  }
  const chroma = Buffer.alloc((W / 2) * (H / 2) * 2, 128);
  const frame = Buffer.concat([Buffer.from('FRAME\n'), y, chroma]);
  writeFileSync(path, Buffer.concat([Buffer.from(`YUV4MPEG2 W${W} H${H} F10:1 Ip A1:1 C420jpeg\n`), frame, frame, frame]));
}

async function pasteAndCheck(page: Page, qr: string): Promise<void> {
  await page.getByRole('button', { name: 'Tempel teks' }).or(page.getByRole('button', { name: 'Paste text' })).click();
  await page.locator('#hc1').fill(qr);
  await page.locator('#paste-form button[type=submit]').click();
  await page.locator('.verdict').waitFor();
}

async function verdict(page: Page): Promise<{ reason: string | null; heading: string | null; text: string | null }> {
  const v = page.locator('.verdict');
  return { reason: await v.getAttribute('data-reason'), heading: await v.locator('h2').textContent(), text: await v.locator('.reason').textContent() };
}

async function again(page: Page): Promise<void> {
  await page.getByRole('button', { name: /Periksa sertifikat lain|Check another certificate/ }).click();
}

describe('verifier page /verify in Chromium', { skip: browserSkip }, () => {
  let server: TestServer;
  // One Chromium for the file (with a fake camera playing the certificate's QR code); a fresh context for each browser of the tests.
  let chromium: Awaited<ReturnType<typeof launchChromium>>;
  let browser: Awaited<ReturnType<Awaited<ReturnType<typeof launchChromium>>['context']>>;
  let page: Page;
  const outside: string[] = [];
  const errors: string[] = [];
  const holder = person({ name: 'Budi Santoso', sex: 'M', birthDate: '1980-05-17' });
  let dose: Awaited<ReturnType<typeof recordDose>>;
  const tmp = mkdtempSync(join(tmpdir(), 'dosis-verifier-'));

  before(async () => {
    server = await startServer();
    dose = await recordDose(server, { person: holder });
    await publishKeys(server);
    const video = join(tmp, 'qr.y4m');
    qrVideo(dose.certificate.qr, video);
    chromium = await launchChromium({ args: ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${video}`] });
    browser = await chromium.context();
    page = await watchedPage(browser, server.url, outside, errors);
  });
  after(async () => {
    await chromium?.close();
    await server?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('verifies a Dosis certificate pasted as text, and shows the holder', async () => {
    await page.goto(`${server.url}/verify`);
    assert.equal(await page.getAttribute('html', 'lang'), 'id');
    await page.getByTestId('trust-status').filter({ hasText: '1 kunci Dosis' }).waitFor();
    await screenshot(page, 'verifier-start');
    await pasteAndCheck(page, dose.certificate.qr);
    assert.deepEqual(await verdict(page), {
      reason: 'ok',
      heading: 'Sertifikat valid',
      text: 'Tanda tangan digital cocok dengan kunci tepercaya dan sertifikat masih berlaku.',
    });
    assert.equal(await page.getByTestId('holder-name').textContent(), 'Budi Santoso');
    const facts = (await page.locator('.facts').textContent()) ?? '';
    for (const s of ['17 Mei 1980', 'CoronaVac', 'Dosis 1 dari 2', '10 Juni 2021', 'Indonesia', dose.certificate.uvci]) assert.ok(facts.includes(s), `shows ${s}`);
    assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 360);
    assert.equal(await page.locator('[data-notice]').count(), 0, 'CoronaVac is in the EU list: no notice');
    await screenshot(page, 'verifier-valid');
    await again(page);
  });

  it('says "vaccine not in the EU list" for an IndoVac certificate, in Indonesian and in English, and still names the vaccine', async () => {
    const indovac = await recordDose(server, {
      person: person({ name: 'Siti Rahayu', sex: 'F', birthDate: '1985-03-02' }),
      body: { vaccine: 'INDOVAC', date: '2022-10-03', lot: 'IV-2210' },
    });
    await pasteAndCheck(page, indovac.certificate.qr);
    assert.equal((await verdict(page)).reason, 'ok');
    const notice = page.locator('[data-notice=vaccine_not_in_eu_list]');
    assert.match((await notice.textContent()) ?? '', /^Vaksin tidak ada dalam daftar UE: IndoVac /);
    assert.ok(((await page.locator('.facts').textContent()) ?? '').includes('IndoVac'));
    await screenshot(page, 'verifier-indovac');
    await page.getByRole('button', { name: 'English' }).click();
    assert.match((await notice.textContent()) ?? '', /^Vaccine not in the EU list: IndoVac /);
    await page.getByRole('button', { name: 'Bahasa Indonesia' }).click();
    await again(page);
  });

  it('rejects a tampered certificate with its reason, in Indonesian and in English', async () => {
    await pasteAndCheck(page, tamper(dose.certificate.qr, 'Budi'));
    const v = await verdict(page);
    assert.equal(v.reason, 'bad_signature');
    assert.equal(v.heading, 'Sertifikat tidak valid');
    assert.match(v.text ?? '', /Tanda tangan tidak valid/);
    assert.equal(await page.getByTestId('holder-name').count(), 0, 'data whose signature fails is not shown');
    await screenshot(page, 'verifier-tampered');
    await page.getByRole('button', { name: 'English' }).click();
    assert.equal((await verdict(page)).heading, 'Invalid certificate');
    assert.match((await verdict(page)).text ?? '', /The signature is invalid/);
    await screenshot(page, 'verifier-tampered-en');
    await page.getByRole('button', { name: 'Bahasa Indonesia' }).click();
    await again(page);
  });

  it('says a certificate has expired, still showing whose it is', async () => {
    // The clock is the browser's: a browser of its own, 800 days from now.
    const future = await chromium.context();
    const later = await future.newPage();
    await later.clock.setFixedTime(new Date(Date.now() + 800 * 86_400_000));
    await later.goto(`${server.url}/verify`);
    await pasteAndCheck(later, dose.certificate.qr);
    const v = await verdict(later);
    assert.equal(v.reason, 'expired');
    assert.equal(v.text, 'Sertifikat sudah kedaluwarsa');
    assert.equal(await later.getByTestId('holder-name').textContent(), 'Budi Santoso');
    await screenshot(later, 'verifier-expired');
    await future.cleanup();
  });

  it('verifies an uploaded picture of the QR code', async () => {
    const png = await toBuffer(dose.certificate.qr, { errorCorrectionLevel: 'Q', scale: 4 });
    await page.locator('.ways input[type=file]').setInputFiles({ name: 'sertifikat.png', mimeType: 'image/png', buffer: png });
    await page.locator('.verdict').waitFor();
    assert.equal((await verdict(page)).reason, 'ok');
    await again(page);
    await page.locator('.ways input[type=file]').setInputFiles({ name: 'kosong.png', mimeType: 'image/png', buffer: await blankPng() });
    await page.getByRole('alert').waitFor();
    assert.match((await page.getByRole('alert').textContent()) ?? '', /Tidak ada kode QR yang terbaca/);
  });

  it('verifies another country’s certificate once its signer is imported, and not before', async () => {
    const foreign = foreignCertificate();
    // A browser of its own, at the corpus's validation time (its certificates expired long ago).
    const then = await chromium.context();
    const at = await then.newPage();
    await at.clock.setFixedTime(foreign.now);
    await at.goto(`${server.url}/verify`);
    await pasteAndCheck(at, foreign.qr);
    assert.equal((await verdict(at)).reason, 'unknown_kid');
    await again(at);

    await at.locator('details.trust summary').click();
    const trustFile = JSON.stringify({ keys: [{ kid: kidOf(Buffer.from(foreign.certificate, 'base64')), certificate: foreign.certificate }] });
    await at.locator('#trust-file').setInputFiles({ name: 'trust-list.json', mimeType: 'application/json', buffer: Buffer.from(trustFile) });
    // An unsigned list: the signer is shown with its subject and fingerprint, and added only once confirmed (issue 15).
    await at.getByTestId('trust-confirm').waitFor();
    assert.equal(await at.getByTestId('trust-fingerprint').textContent(), new X509Certificate(Buffer.from(foreign.certificate, 'base64')).fingerprint256);
    assert.ok(((await at.getByTestId('trust-subject').textContent()) ?? '').length > 0);
    assert.ok(await at.getByTestId('trust-accept').isDisabled(), 'not before the fingerprint is checked');
    await at.getByTestId('trust-checked').check();
    await at.getByTestId('trust-accept').click();
    await at.getByText('1 kunci ditambahkan.').waitFor();
    assert.match((await at.getByTestId('trust-status').textContent()) ?? '', /1 kunci tambahan dari Anda/);
    await screenshot(at, 'verifier-trust-list');
    await pasteAndCheck(at, foreign.qr);
    assert.equal((await verdict(at)).reason, 'ok');
    assert.ok((await at.getByTestId('holder-name').textContent())?.includes(foreign.name));
    await screenshot(at, 'verifier-foreign-certificate');
    await then.cleanup();
  });

  it('rejects a certificate revoked since, once the page has fetched the signed revocation list', async () => {
    const other = await recordDose(server, { person: person() });
    await server.db.db.query("UPDATE certificates SET status = 'revoked', status_reason = 'test' WHERE person_id = $1 AND id = $2", [other.person.id, other.certificate.id]);
    await page.goto(`${server.url}/verify`);
    await page.waitForFunction(() => (JSON.parse(localStorage.getItem('dosis.trust.revoked') ?? 'null') as { hashes: string[] } | null)?.hashes.length === 1);
    await pasteAndCheck(page, other.certificate.qr);
    assert.deepEqual(await verdict(page), { reason: 'revoked', heading: 'Sertifikat tidak valid', text: 'Sertifikat telah dicabut' });
    await again(page);
    await pasteAndCheck(page, dose.certificate.qr);
    assert.equal((await verdict(page)).reason, 'ok', 'the others stay valid');
    await again(page);
  });

  it('scans the QR code from the camera and verifies it', async () => {
    const camera = await chromium.context();
    const p = await camera.newPage();
    await p.goto(`${server.url}/verify`);
    await p.getByRole('button', { name: 'Pindai dengan kamera' }).click();
    await p.locator('.verdict').waitFor({ timeout: 20_000 });
    assert.equal((await verdict(p)).reason, 'ok');
    assert.equal(await p.getByTestId('holder-name').textContent(), 'Budi Santoso');
    await camera.cleanup();
  });

  it('keeps working offline after the first visit: network cut, then the server gone', async () => {
    // The first visit installed the service worker; wait until it controls the page.
    await page.goto(`${server.url}/verify`);
    await page.evaluate(async () => {
      await navigator.serviceWorker.ready;
      if (!navigator.serviceWorker.controller) await new Promise((r) => navigator.serviceWorker.addEventListener('controllerchange', r, { once: true }));
    });
    await browser.setOffline(true);
    try {
      await page.reload();
      await page.locator('.offline-bar').waitFor();
      await pasteAndCheck(page, dose.certificate.qr);
      assert.equal((await verdict(page)).reason, 'ok');
      await screenshot(page, 'verifier-offline');
    } finally {
      await browser.setOffline(false);
    }
    await server.stop();
    const fresh = await browser.newPage();
    await fresh.goto(`${server.url}/verify`);
    await pasteAndCheck(fresh, tamper(dose.certificate.qr, 'Budi'));
    assert.equal((await verdict(fresh)).reason, 'bad_signature');
    await again(fresh);
    await pasteAndCheck(fresh, dose.certificate.qr);
    assert.equal((await verdict(fresh)).reason, 'ok');
    await fresh.close();
  });

  it('made no request outside the site, and no script error', () => {
    assert.deepEqual(outside, []);
    assert.deepEqual(errors, []);
  });
});

/** A white 64×64 PNG: a picture with no QR code in it. */
async function blankPng(): Promise<Buffer> {
  const { PNG } = await import('pngjs');
  const png = new PNG({ width: 64, height: 64 });
  png.data.fill(255);
  return PNG.sync.write(png);
}
