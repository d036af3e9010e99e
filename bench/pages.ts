/**
 * `npm run bench -- pages`: what a person's SMS link costs the server — the
 * certificate page's HTML (/c/<token>), the JSON behind it
 * (GET /api/v1/public/links/{token}) and the PDF
 * (GET /api/v1/public/certificates/{id}/pdf) — in requests per second and
 * latency percentiles, on PGlite and PostgreSQL. Target (issue 6): each at
 * ≥ 1,000 requests/s with p99 < 50 ms (DIVOC published 418 JSON fetches/s
 * and 250 PDFs/s).
 *
 * Set-up:
 * - the server is a real `dosis serve` subprocess (DOSIS_WORKER=false,
 *   LOG_LEVEL=warn), the load generator (autocannon, keep-alive connections)
 *   runs in this process: both share this machine's cores;
 * - `--people` people with two doses each are recorded first; every request
 *   uses another person's link (round robin), so the JSON is a database
 *   query each time, not a cached answer;
 * - PDFs are first fetched once each (that renders them: the render time is
 *   printed), then measured as people fetch them again: from the cache.
 *
 * Then (issue 17, `--part phone`) what the console costs a phone: sign-in,
 * record form, search, timeline and dashboard opened in Chromium at 360×740
 * with the CPU 4× slower and slow 3G (400 kbit/s, 400 ms round trip; see
 * test/web/page-weight.ts), each with an empty cache (a new browser context
 * per run; signed in through the API, except for sign-in). "Usable" is the
 * time from the navigation until the page's working element is shown (the
 * sign-in button, the record form's submit button, the search results, the
 * person's facts, the per-facility table); for the record form also until
 * it can be sent (its checks, with the phone metadata, arrive beside it: the
 * submit button is enabled). The median of `--runs` is printed, with the
 * scripts each page loaded (raw and gzip; the server sends brotli where the
 * browser takes it, a little smaller).
 */
import { parseArgs } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { PeopleGenerator, doseRequest } from '../test/helpers/people.ts';
import { createScratchDatabase, facilityToken, keepAliveAgent, request, startServer, type DosisServer } from '../test/helpers/server.ts';
import { chromium } from 'playwright-core';
import { ensureWebBuild } from '../scripts/build-web.ts';
import { CHROMIUM } from '../test/helpers/services.ts';
import { sum, throttle, THROTTLED_PHONE, watchScripts, type ScriptWeight } from '../test/web/page-weight.ts';

const HELP = `npm run bench -- pages [options]

  --backend pglite|postgres|both   which database (default both; PostgreSQL at TEST_DATABASE_URL)
  --people N                       people recorded, two doses each (default 300)
  --duration S                     seconds per measurement (default 10)
  --connections N                  concurrent keep-alive connections (default 16)
  --part server|phone|both         the server's figures, the console on a throttled phone, or both (default both)
  --runs N                         phone: cold loads per page, the median is printed (default 3)`;

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'both' },
    people: { type: 'string', default: '300' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '16' },
    part: { type: 'string', default: 'both' },
    runs: { type: 'string', default: '3' },
    help: { type: 'boolean' },
  },
});
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
const PEOPLE = Number(values.people);
const DURATION = Number(values.duration);
const CONNECTIONS = Number(values.connections);
const RUNS = Number(values.runs);
const ADMIN = 'dos_bench_admin_token_0123456789abcdef';
const TARGET_RPS = 1000;
const TARGET_P99_MS = 50;

interface Link {
  token: string;
  certificateIds: string[];
}

async function seed(server: DosisServer): Promise<Link[]> {
  const token = await facilityToken(server.url, ADMIN, 'PKM-BENCH');
  const agent = keepAliveAgent(8);
  const people = new PeopleGenerator();
  const links: Link[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < PEOPLE) {
      next++;
      const p = people.next();
      const ids: string[] = [];
      let link = '';
      for (const [doseNumber, date] of [
        [1, '2021-06-10'],
        [2, '2021-07-08'],
      ] as const) {
        const body = doseRequest(p, { doseNumber, date });
        const r = await request(server.url, 'POST', '/api/v1/vaccinations', body, { authorization: `Bearer ${token}` }, { agent });
        if (r.status !== 201) throw new Error(`recording a dose: ${r.status} ${r.text}`);
        ids.push(r.body.certificate.id as string);
        link = new URL(r.body.certificate.link as string).pathname.replace('/c/', '');
      }
      links.push({ token: link, certificateIds: ids });
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  agent.destroy();
  return links;
}

interface Figures {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  non2xx: number;
}

async function measure(server: DosisServer, name: string, paths: string[]): Promise<Figures> {
  let i = 0;
  const result = await autocannon({
    url: server.url,
    connections: CONNECTIONS,
    duration: DURATION,
    requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: paths[i++ % paths.length]! }) }],
  });
  return {
    name,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

async function run(backend: 'pglite' | 'postgres'): Promise<Figures[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dosis-bench-pages-'));
  const scratch = backend === 'postgres' ? await createScratchDatabase('bench_pages') : undefined;
  const server = await startServer({
    env: {
      DOSIS_ADMIN_TOKEN: ADMIN,
      DOSIS_WORKER: 'false',
      DOSIS_DATA_DIR: dataDir,
      DATABASE_URL: scratch?.url,
      PUBLIC_URL: 'https://dosis.example.id',
    },
    readyTimeoutMs: 60_000,
  });
  try {
    const started = Date.now();
    const links = await seed(server);
    console.log(`\n[${backend}] ${links.length} people, ${links.length * 2} certificates recorded in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const pdfPaths = links.flatMap((l) => l.certificateIds.map((id) => `/api/v1/public/certificates/${id}/pdf?token=${l.token}`));
    const renderStart = Date.now();
    const agent = keepAliveAgent(2);
    for (const path of pdfPaths.slice(0, 200)) {
      const r = await request(server.url, 'GET', path, undefined, {}, { agent });
      if (r.status !== 200) throw new Error(`PDF ${path}: ${r.status} ${r.text.slice(0, 200)}`);
    }
    const rendered = Math.min(200, pdfPaths.length);
    console.log(`[${backend}] first fetch of ${rendered} PDFs (each rendered once, then cached): ${((Date.now() - renderStart) / rendered).toFixed(1)} ms each`);
    for (const path of pdfPaths.slice(200)) await request(server.url, 'GET', path, undefined, {}, { agent });
    agent.destroy();

    const figures = [
      await measure(server, 'page HTML  GET /c/{token}', links.map((l) => `/c/${l.token}`)),
      await measure(server, 'page JSON  GET /api/v1/public/links/{token}', links.map((l) => `/api/v1/public/links/${l.token}`)),
      await measure(server, 'PDF        GET /api/v1/public/certificates/{id}/pdf', pdfPaths),
    ];
    return figures;
  } finally {
    await server.stop();
    await scratch?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

interface PhoneFigures {
  name: string;
  ms: number[];
  /** The record form: until it can be sent (its checks arrived). */
  sendableMs: number[];
  scripts: ScriptWeight[];
}

/** The console's pages on a throttled phone, each loaded cold RUNS times. */
async function phone(): Promise<PhoneFigures[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dosis-bench-phone-'));
  const server = await startServer({ env: { DOSIS_ADMIN_TOKEN: ADMIN, DOSIS_WORKER: 'false', DOSIS_DATA_DIR: dataDir }, readyTimeoutMs: 60_000 });
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'] });
  try {
    const token = await facilityToken(server.url, ADMIN, 'PKM-BENCH');
    const people = new PeopleGenerator();
    let person: { id: string; nik: string } | undefined;
    for (let i = 0; i < 20; i++) {
      const p = people.next();
      const r = await request(server.url, 'POST', '/api/v1/vaccinations', doseRequest(p), { authorization: `Bearer ${token}` });
      if (r.status !== 201) throw new Error(`recording a dose: ${r.status} ${r.text}`);
      person ??= { id: r.body.person.id as string, nik: p.nik };
    }
    const password = 'bench-sandi-panjang-42';
    const a = await request(server.url, 'POST', '/api/v1/accounts', { username: 'bench-nurse', displayName: 'Bench', role: 'facility', facility: 'PKM-BENCH', password }, { authorization: `Bearer ${ADMIN}` });
    if (a.status !== 201) throw new Error(`creating the console account: ${a.status} ${a.text}`);
    const pages: { name: string; path: string; signedIn: boolean; usable: string; sendable?: string }[] = [
      { name: 'sign-in', path: '/console', signedIn: false, usable: 'button[type=submit]' },
      { name: 'record form', path: '/console/record', signedIn: true, usable: '[data-testid=submit-dose]', sendable: '[data-testid=submit-dose]:not([disabled])' },
      { name: 'search', path: `/console/people?q=${person!.nik}`, signedIn: true, usable: '[data-testid=search-results]' },
      { name: 'timeline', path: `/console/people/${person!.id}`, signedIn: true, usable: '[data-testid=person-facts]' },
      { name: 'dashboard', path: '/console/dashboard', signedIn: true, usable: '[data-testid=per-facility]' },
    ];
    const out: PhoneFigures[] = [];
    for (const p of pages) {
      const figures: PhoneFigures = { name: p.name, ms: [], sendableMs: [], scripts: [] };
      for (let run = 0; run < RUNS; run++) {
        const context = await browser.newContext({ viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'id-ID' });
        try {
          if (p.signedIn) {
            const r = await context.request.post(server.url + '/api/v1/session', { data: { username: 'bench-nurse', password } });
            if (r.status() !== 200) throw new Error(`signing in: ${r.status()} ${await r.text()}`);
          }
          const page = await context.newPage();
          await throttle(context, page);
          const scripts = watchScripts(page, server.url);
          const started = performance.now();
          await page.goto(server.url + p.path, { waitUntil: 'commit' });
          await page.locator(p.usable).first().waitFor({ state: 'visible', timeout: 60_000 });
          figures.ms.push(performance.now() - started);
          if (p.sendable) {
            await page.locator(p.sendable).first().waitFor({ state: 'visible', timeout: 60_000 });
            figures.sendableMs.push(performance.now() - started);
          }
          await page.waitForLoadState('networkidle');
          figures.scripts = scripts();
        } finally {
          await context.close();
        }
      }
      out.push(figures);
    }
    return out;
  } finally {
    await browser.close();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const kb = (n: number): string => `${(n / 1024).toFixed(1)} KiB`;

await ensureWebBuild();
let missed = 0;
if (values.part !== 'phone') {
  const backends: ('pglite' | 'postgres')[] = values.backend === 'both' ? ['pglite', 'postgres'] : [values.backend as 'pglite' | 'postgres'];
  const all: [string, Figures[]][] = [];
  for (const b of backends) all.push([b, await run(b)]);

  console.log(`\nCertificate page and PDF, ${CONNECTIONS} keep-alive connections, ${DURATION} s each (target: ≥ ${TARGET_RPS} req/s, p99 < ${TARGET_P99_MS} ms)\n`);
  console.log('backend   request                                            req/s    p50 ms  p99 ms  max ms  errors  target');
  for (const [backend, figures] of all) {
    for (const f of figures) {
      const ok = f.rps >= TARGET_RPS && f.p99 < TARGET_P99_MS && f.errors === 0 && f.non2xx === 0;
      if (!ok) missed++;
      console.log(
        `${backend.padEnd(9)} ${f.name.padEnd(50)} ${f.rps.toFixed(0).padStart(7)} ${String(f.p50).padStart(8)} ${String(f.p99).padStart(7)} ${String(f.max).padStart(7)} ${String(f.errors + f.non2xx).padStart(7)}  ${ok ? 'met' : 'MISSED'}`,
      );
    }
  }
}
if (values.part !== 'server') {
  const figures = await phone();
  const p = THROTTLED_PHONE;
  console.log(
    `\nThe console on a throttled phone (360×740, CPU ${p.cpuSlowdown}× slower, ${(p.downloadBytesPerSecond * 8) / 1000} kbit/s, ${p.latencyMs} ms round trip; empty cache; median of ${RUNS})\n`,
  );
  console.log('page          usable ms   (runs)                 scripts  raw         gzip');
  for (const f of figures) {
    console.log(
      `${f.name.padEnd(13)} ${median(f.ms).toFixed(0).padStart(9)}   ${`(${f.ms.map((m) => m.toFixed(0)).join(', ')})`.padEnd(22)} ${String(f.scripts.length).padStart(7)}  ${kb(sum(f.scripts, 'raw')).padEnd(11)} ${kb(sum(f.scripts, 'gzip'))}`,
    );
  }
  for (const f of figures) {
    if (f.sendableMs.length) console.log(`${`${f.name}, sendable`.padEnd(21)} ${median(f.sendableMs).toFixed(0).padStart(9)}   (${f.sendableMs.map((m) => m.toFixed(0)).join(', ')})`);
  }
  for (const f of figures) console.log(`  ${f.name}: ${f.scripts.map((s) => `${s.path} (${kb(s.raw)}, gzip ${kb(s.gzip)})`).join(', ')}`);
}
process.exit(missed === 0 ? 0 : 1);
