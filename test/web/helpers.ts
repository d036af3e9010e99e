/**
 * For the browser tests: the pages built (once, shared by parallel test
 * files), Dosis listening on a random port over a test database, and a real
 * Chromium (Debian's, driven by playwright-core — never a downloaded one):
 * a fresh context of the run's one Chromium, or one of its own.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Download, type Locator, type Page } from 'playwright-core';
import { ensureWebBuild } from '../../scripts/build-web.ts';
import { BACKENDS, openTestDb, type Backend, type TestDb } from '../helpers/db.ts';
import { ADMIN_TOKEN, bearer, doseBody, facilityWithToken, person, testRuntime } from '../helpers/app.ts';
import type { Worker } from '../../src/notify/outbox.ts';
import type { Runtime } from '../../src/runtime.ts';
import { decodeQrPng } from '../../src/certificates/qr-image.ts';

import { BROWSER_LEFT_OUT, CHROMIUM, SHARED_CHROMIUM_ENV, chromiumArgs, chromiumProblem } from '../helpers/services.ts';

export { CHROMIUM };
/** The skip of a suite that drives Chromium: false, or why the user left the browser out. */
export const browserSkip: string | false = BROWSER_LEFT_OUT;
export const SCREENSHOTS = join(import.meta.dirname, '../../test-results/screenshots');

/** The phone width the pages are designed for. */
export const PHONE = { width: 360, height: 780 };
/** The phone of issue 17's journeys: 360×740. */
export const PHONE_740 = { width: 360, height: 740 };

export interface TestServer {
  url: string;
  rt: Runtime;
  db: TestDb;
  stop(): Promise<void>;
}

/**
 * The backend of the browser tests' servers: PostgreSQL when the run has it,
 * else the first configured. These tests drive the pages; both backends are
 * tested under the routes by the data and HTTP tests, and one browser file
 * (console-record) keeps the embedded default under the pages. A PGlite in
 * the test process costs about 3 s of CPU more per file than a fresh
 * migrated schema on PostgreSQL (loading the WASM database, then every query
 * of the file run in it).
 */
export const SERVER_BACKEND: Backend = BACKENDS.includes('postgres') ? 'postgres' : (BACKENDS[0] ?? 'pglite');

/**
 * Dosis over a fresh test database, listening on 127.0.0.1 at a random port:
 * on SERVER_BACKEND, or on `backend` when the run has it.
 */
export async function startServer(env: Record<string, string> = {}, opts: { backend?: Backend } = {}): Promise<TestServer> {
  await ensureWebBuild(() => {});
  const db = await openTestDb(opts.backend && BACKENDS.includes(opts.backend) ? opts.backend : SERVER_BACKEND);
  const rt = await testRuntime(db.db, { PUBLIC_URL: 'http://127.0.0.1', ...env });
  await rt.app.listen({ port: 0, host: '127.0.0.1' });
  const address = rt.app.server.address();
  if (!address || typeof address === 'string') throw new Error('server has no port');
  const url = `http://127.0.0.1:${address.port}`;
  let stopped = false;
  return {
    url,
    rt,
    db,
    async stop() {
      if (stopped) return;
      stopped = true;
      await rt.app.close();
      await db.close();
    },
  };
}

/**
 * Has the server make its signing keys and sign its lists (trust list,
 * revocation list, JWKS) before a page asks for them. The first of these
 * requests creates keys under advisory locks that every schema of the
 * PostgreSQL database shares (one key each: issuer.ts, shc-issuer.ts), and
 * on a loaded machine another test file may hold one for seconds (seen
 * "idle in transaction" with it); past the verifier page's 8 s fetch timeout
 * the page never shows the server's keys, and its test times out waiting for
 * them (verifier-page and verifier-series, both under load). Done here, the
 * wait has no deadline and the page's requests only read.
 */
export async function publishKeys(server: TestServer): Promise<void> {
  for (const url of ['/api/v1/trust-list', '/api/v1/revocation-list', '/.well-known/jwks.json']) {
    const r = await server.rt.app.inject({ method: 'GET', url });
    if (r.statusCode !== 200) throw new Error(`${url}: ${r.statusCode} ${r.body}`);
  }
}

/** Records a dose through the API (as a facility would) and returns the answer, with the link's path. */
export async function recordDose(server: TestServer, over: { person?: ReturnType<typeof person>; body?: Record<string, unknown>; facility?: { code: string; token: string } } = {}) {
  const facility = over.facility ?? (await facilityWithToken(server.db.db));
  const p = over.person ?? person();
  const r = await server.rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(facility.token), payload: doseBody(p, over.body ?? {}) });
  if (r.statusCode !== 201) throw new Error(`recording a dose: ${r.statusCode} ${r.body}`);
  const answer = r.json();
  return { ...answer, personInput: p, facility, linkPath: new URL(answer.certificate.link as string).pathname };
}

/**
 * The code of the newest code SMS to `to` (E.164), once `sent` is shown: the
 * page's "code sent" screen, which it shows when the server has accepted the
 * request, and with it committed the SMS job. Only then does draining
 * `worker` send that code; a drain before it (the page's request still on
 * its way, as on a loaded machine) finds nothing, and the sink holds no code
 * or an earlier one. Certificate SMS (their link has /c/) are passed over: a
 * dose recorded meanwhile may send one after the code.
 */
export async function smsCode(server: TestServer, worker: Worker, to: string, sent: Locator): Promise<string> {
  await sent.waitFor();
  await worker.drain();
  const r = await server.rt.app.inject({ method: 'GET', url: '/api/v1/sms/sink?limit=200', headers: bearer(ADMIN_TOKEN) });
  const sms = (r.json().messages as { to: string; text: string }[]).filter((m) => m.to === to && !m.text.includes('/c/')).pop();
  const code = /\b(\d{6})\b/.exec(sms?.text ?? '')?.[1];
  if (!code) throw new Error(`no code in the SMS to ${to}: ${sms?.text}`);
  return code;
}

/** What every page of the tests is: a phone in Jakarta, in Indonesian. */
function contextOptions(opts: { viewport?: { width: number; height: number }; serviceWorkers?: 'allow' | 'block' }) {
  return {
    viewport: opts.viewport ?? PHONE,
    deviceScaleFactor: 2,
    locale: 'id-ID',
    timezoneId: 'Asia/Jakarta',
    acceptDownloads: true,
    serviceWorkers: opts.serviceWorkers ?? 'allow',
  };
}

function checkChromium(): void {
  const problem = chromiumProblem();
  if (problem) throw new Error(`${problem}; set DOSIS_SKIP_BROWSER=1 to leave the browser tests out`);
}

/**
 * A fresh browser: `serviceWorkers: 'block'` keeps every request on the network; end it with
 * cleanup(). In a run of scripts/test.ts, a new context of the run's one Chromium (scripts/
 * test-chromium.ts): its own cookies, storage, cache and service workers, nothing of another test
 * file's, for a connection instead of a launch (0.2 to 0.4 s of CPU less). Alone (node --test), or
 * with `args` (flags of its own: fake camera…), its own Chromium with a fresh profile.
 */
export async function launchBrowser(opts: { args?: string[]; viewport?: { width: number; height: number }; serviceWorkers?: 'allow' | 'block' } = {}): Promise<BrowserContext & { cleanup(): Promise<void> }> {
  checkChromium();
  const shared = process.env[SHARED_CHROMIUM_ENV];
  if (shared && !opts.args) {
    const connection = await connectShared(shared);
    const context = await connection.browser.newContext(contextOptions(opts));
    return Object.assign(context, { cleanup: () => connection.close() });
  }
  const profile = mkdtempSync(join(tmpdir(), 'dosis-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, ...contextOptions(opts), args: chromiumArgs(opts.args) });
  return Object.assign(context, {
    async cleanup() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  });
}

/**
 * A connection to the run's one Chromium at `wsEndpoint`. Should the browser go away while a test
 * uses it, every call of the test fails at once (the connection closes: "…: Browser closed"); this
 * says why, beside it.
 */
async function connectShared(wsEndpoint: string): Promise<{ browser: Browser; close(): Promise<void> }> {
  const why = `the run's shared Chromium (${SHARED_CHROMIUM_ENV}=${wsEndpoint}, scripts/test-chromium.ts)`;
  let browser: Browser;
  try {
    browser = await chromium.connect(wsEndpoint, { timeout: 60_000 });
  } catch (e) {
    throw new Error(`${why} does not answer: ${(e as Error).message}`, { cause: e });
  }
  let closing = false;
  browser.on('disconnected', () => {
    if (!closing) console.error(`${why} went away: its pages are closed, and the test that used them fails`);
  });
  return {
    browser,
    async close() {
      // The contexts of this connection, then the connection: the browser serves on.
      closing = true;
      await browser.close();
    },
  };
}

export interface SharedChromium {
  /** A fresh context (its own cookies, storage, service workers, network and clock), as launchBrowser's; end it with cleanup(). */
  context(opts?: { viewport?: { width: number; height: number }; serviceWorkers?: 'allow' | 'block' }): Promise<BrowserContext & { cleanup(): Promise<void> }>;
  close(): Promise<void>;
}

/**
 * One Chromium for a test file that needs several fresh browsers (another
 * clock, another profile): each context() is as new as a launchBrowser() —
 * nothing of one context is seen by another — for a fraction of a launch's CPU.
 * `args` adds flags to the one Chromium (fake camera…).
 */
export async function launchChromium(opts: { args?: string[] } = {}): Promise<SharedChromium> {
  checkChromium();
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: chromiumArgs(opts.args) });
  return {
    async context(o = {}) {
      const context = await browser.newContext(contextOptions(o));
      return Object.assign(context, { cleanup: () => context.close() });
    },
    close: () => browser.close(),
  };
}

/**
 * The bytes of a finished download (it throws for a failed one). Read through Playwright's
 * connection: download.path() has no file here when the browser is the run's shared one.
 */
export async function downloaded(download: Download): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await download.createReadStream()) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * A new page of `browser` whose script errors land in `errors`, and every
 * request of the context that leaves the site (`base`) in `outside`: pages
 * must make no third-party request.
 */
export async function watchedPage(browser: BrowserContext, base: string, outside: string[], errors: string[]): Promise<Page> {
  browser.on('request', (r) => {
    const url = r.url();
    if (!url.startsWith(base) && !url.startsWith('data:') && !url.startsWith('blob:')) outside.push(url);
  });
  const page = await browser.newPage();
  page.on('pageerror', (e) => errors.push(e.message));
  return page;
}

/**
 * Saves a full-page screenshot as a test artifact (test-results/screenshots/<name>.png),
 * in CSS pixels (360 wide for a phone): a quarter of the device's pixels to
 * encode (about 0.2 s of CPU less for a long page), and no test compares
 * these pictures (the QR checks take their own at the device's scale). When
 * screens are collected for review (DOSIS_SCREENS_DIR), at the device's scale.
 */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true, scale: process.env.DOSIS_SCREENS_DIR ? 'device' : 'css' });
  return path;
}

/** The QR text of page 1 of a PDF, read from the page rendered at `dpi` (poppler's pdftoppm). */
export function qrOfPdf(pdf: Uint8Array, dpi = 150): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'dosis-pdf-'));
  try {
    writeFileSync(join(dir, 'c.pdf'), pdf);
    execFileSync('pdftoppm', ['-r', String(dpi), '-png', '-f', '1', '-l', '1', join(dir, 'c.pdf'), join(dir, 'page')]);
    const png = readdirSync(dir).find((f) => f.endsWith('.png'));
    if (!png) throw new Error('pdftoppm made no picture');
    return decodeQrPng(readFileSync(join(dir, png)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The text of a PDF (poppler's pdftotext). */
export function textOfPdf(pdf: Uint8Array): string {
  return execFileSync('pdftotext', ['-layout', '-', '-'], { input: pdf }).toString('utf8');
}

