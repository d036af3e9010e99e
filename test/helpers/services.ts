/**
 * The outside services the tests need (PostgreSQL, Kannel, Chromium, poppler)
 * and what a run was asked to leave out. Nothing is skipped in silence: a
 * service that is missing fails the run, unless the user left it out
 * (`DOSIS_TEST_BACKENDS=pglite`, `DOSIS_SKIP_KANNEL=1`, `DOSIS_SKIP_BROWSER=1`);
 * a test left out that way is skipped with a reason that starts with
 * `LEFT_OUT`, which the runner (scripts/test.ts) reports as asked for. Any
 * other skip fails the run.
 *
 * No node:test import here: scripts/test.ts uses this module for its checks
 * before any test starts.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

export type Backend = 'pglite' | 'postgres';
export const BACKENDS = (process.env.DOSIS_TEST_BACKENDS ?? 'pglite,postgres')
  .split(',')
  .map((s) => s.trim())
  .filter((s) => s !== '') as Backend[];
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** PGlite's initdb'd data directory (a tar), made once per run by scripts/test.ts; relative to the project. */
export const PGLITE_TEMPLATE = 'test-results/pglite-template.tar';

/**
 * Starts a Dosis data directory (`DOSIS_DATA_DIR`) with PGlite's database
 * already initdb'd, from the runner's template: a process that opens it skips
 * PGlite's first initdb (seconds of CPU). The database in it is still empty
 * (no migration applied), so for Dosis this is still a first start. Without the
 * template (a test file run on its own with node --test) it does nothing and
 * PGlite initdb's as usual.
 */
export function seedDataDir(dataDir: string): void {
  const template = join(import.meta.dirname, '../..', PGLITE_TEMPLATE);
  if (!existsSync(template)) return;
  mkdirSync(join(dataDir, 'pglite'), { recursive: true });
  execFileSync('tar', ['xf', template, '-C', join(dataDir, 'pglite')], { stdio: 'ignore' });
}
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Chromium's flags for every browser of the tests (test/web/helpers.ts, and the run's one Chromium: scripts/test-chromium.ts); `extra` adds some (fake camera…). */
export function chromiumArgs(extra: string[] = []): string[] {
  return ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync', ...extra];
}
/**
 * The run's one Chromium, which scripts/test.ts starts for the browser test files (a Playwright
 * server's WebSocket address): launchBrowser() takes a fresh context of it instead of launching a
 * Chromium of its own. Unset when a file runs alone (node --test).
 */
export const SHARED_CHROMIUM_ENV = 'DOSIS_TEST_CHROMIUM_WS';
export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';
export const BEARERBOX = process.env.KANNEL_BEARERBOX ?? '/usr/sbin/bearerbox';
export const SMSBOX = process.env.KANNEL_SMSBOX ?? '/usr/sbin/smsbox';

/**
 * The node flags of the test processes (scripts/test.ts passes them to each test file; the
 * `dosis` processes the tests start inherit them: see test/helpers/server.ts).
 * `--wasm-tiering-budget`: V8 recompiles a WebAssembly function optimised (in background threads)
 * once it has run about this many bytes of code, 13 million by default. PGlite's PostgreSQL is 9 MB
 * of WebAssembly, much of it run a little by a short test: opening a migrated PGlite and migrating
 * a second schema took 2.3 s of CPU by default, 1.6 s at a budget of 10^9 (measured). The few hot
 * loops still reach it: the QR decoder (zbar, WebAssembly too) keeps its speed. `--liftoff-only`
 * (no optimised code at all) took 1.2 s there but slowed the decoder: 7.1 s of CPU for
 * test/certificates/eu-dcc-conformance.test.ts instead of 4.4. Tests only: a long-running server
 * earns the optimised code back.
 */
export const TEST_NODE_FLAGS = ['--wasm-tiering-budget=1000000000'];

/** Every skip reason for something the user asked to leave out starts with this. */
export const LEFT_OUT = 'left out: ';

/** How long a loaded machine may take to answer before PostgreSQL is called unreachable. */
const PROBE_WINDOW_MS = Number(process.env.DOSIS_TEST_PROBE_SECONDS ?? 30) * 1000;

export const POSTGRES_LEFT_OUT: string | false = BACKENDS.includes('postgres')
  ? false
  : `${LEFT_OUT}PostgreSQL (DOSIS_TEST_BACKENDS=${BACKENDS.join(',')})`;
export const PGLITE_LEFT_OUT: string | false = BACKENDS.includes('pglite')
  ? false
  : `${LEFT_OUT}PGlite (DOSIS_TEST_BACKENDS=${BACKENDS.join(',')})`;
export const KANNEL_LEFT_OUT: string | false = process.env.DOSIS_SKIP_KANNEL === '1' ? `${LEFT_OUT}Kannel (DOSIS_SKIP_KANNEL=1)` : false;
export const HSM_LEFT_OUT: string | false = process.env.DOSIS_SKIP_HSM === '1' ? `${LEFT_OUT}SoftHSM2 (DOSIS_SKIP_HSM=1)` : false;
export const BROWSER_LEFT_OUT: string | false = process.env.DOSIS_SKIP_BROWSER === '1' ? `${LEFT_OUT}Chromium (DOSIS_SKIP_BROWSER=1)` : false;

/**
 * Null when PostgreSQL answers `SELECT 1` at `url`, else why not. Tries again
 * for `windowMs` (30 s): a connection that times out on a busy machine is
 * not a missing server.
 */
export async function postgresProblem(url = TEST_DATABASE_URL, windowMs = PROBE_WINDOW_MS): Promise<string | null> {
  const deadline = Date.now() + windowMs;
  let last: string;
  for (let attempt = 1; ; attempt++) {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
    c.on('error', () => {});
    try {
      await c.connect();
      await c.query('SELECT 1');
      return null;
    } catch (e) {
      last = (e as Error).message;
    } finally {
      await c.end().catch(() => {});
    }
    if (Date.now() >= deadline) {
      return `PostgreSQL at ${url} is not reachable (${attempt} attempts in ${Math.round(windowMs / 1000)} s; last: ${last})`;
    }
    await sleep(1000);
  }
}

/**
 * Vacuums the system catalogs of the test database that have dead rows, and says what it did.
 *
 * Every run creates and drops a schema for each PostgreSQL test file (about 150, each of 65
 * tables with their columns, indexes, constraints and triggers), and the dead catalog rows stay
 * until a vacuum removes them. A server without autovacuum (this project's test machine, and any
 * that turns it off) never does: after a dozen runs the test database's pg_attribute held 1.4
 * million dead rows in 296 MB, pg_depend 115 MB, pg_class 73 MB, and every later run was slower
 * (PostgreSQL's CPU over a run grew from 121 to 134 core-seconds in three runs, measured). So
 * the runner vacuums what the runs left, before it starts. Shared catalogs (pg_database,
 * pg_shdepend: the scratch databases of the process tests) are vacuumed from here too.
 *
 * A plain VACUUM makes the dead rows' space reusable but keeps the files and their indexes at
 * their size: vacuumed before every run, pg_attribute still grew to 51 MB (21 MB of indexes) for
 * 3,000 live rows, and a run took 574 core-seconds where it took 523 right after a VACUUM FULL
 * (measured, same commit). So the catalogs of pg_catalog are compacted (VACUUM FULL: a fifth of
 * a second for all of them here). It locks each catalog while it rewrites it; with a lock
 * timeout of 2 s it gives up on one another session is using (a run beside this one), which
 * then gets the plain VACUUM. TOAST tables get the plain VACUUM (their table's FULL rewrites them).
 */
export async function vacuumTestCatalogs(url = TEST_DATABASE_URL): Promise<string> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => {});
  await c.connect();
  try {
    const r = await c.query<{ name: string; dead: string }>(
      `SELECT format('%I.%I', schemaname, relname) AS name, n_dead_tup AS dead FROM pg_stat_sys_tables
        WHERE schemaname IN ('pg_catalog', 'pg_toast') AND n_dead_tup > 1000 ORDER BY n_dead_tup DESC`,
    );
    if (r.rows.length === 0) return 'PostgreSQL catalogs: nothing to vacuum';
    const size = async (): Promise<number> =>
      Number((await c.query<{ n: string }>(`SELECT sum(pg_total_relation_size(n::regclass))::int8 AS n FROM unnest($1::text[]) n`, [r.rows.map((x) => x.name)])).rows[0]?.n ?? 0);
    const before = await size();
    await c.query("SET statement_timeout = 0; SET lock_timeout = '2s'");
    let compacted = 0;
    for (const { name } of r.rows) {
      if (name.startsWith('pg_catalog.')) {
        try {
          await c.query(`VACUUM FULL ${name}`);
          compacted++;
        } catch (e) {
          if ((e as { code?: string }).code !== '55P03') throw e; // lock_not_available: in use by another session
        }
      }
      await c.query(`VACUUM ${name}`); // after a FULL too: only a plain VACUUM resets the counts of dead rows read above
    }
    const dead = r.rows.reduce((n, x) => n + Number(x.dead), 0);
    const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;
    return `PostgreSQL catalogs: vacuumed ${r.rows.length} with ${dead.toLocaleString('en')} dead rows (${compacted} compacted; ${mb(before)} → ${mb(await size())})`;
  } finally {
    await c.end().catch(() => {});
  }
}

/** Why the Kannel binaries cannot run here, or null. */
export function kannelProblem(): string | null {
  const missing = [BEARERBOX, SMSBOX].filter((p) => !existsSync(p));
  return missing.length === 0 ? null : `Kannel not found (${missing.join(', ')}): apt-get install -y kannel kannel-extras`;
}

/** Why the PKCS#11 signer cannot be tested here (SoftHSM2 missing), or null. */
export function softHsmMissing(): string | null {
  return existsSync(SOFTHSM_MODULE) ? null : `SoftHSM2 not found (${SOFTHSM_MODULE}): apt-get install -y softhsm2`;
}

/** Why Chromium cannot run here, or null. */
export function chromiumProblem(): string | null {
  return existsSync(CHROMIUM) ? null : `Chromium not found at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`;
}

/** Why poppler's tools (the PDF tests read certificates back with them) are missing, or null. */
export function popplerProblem(): string | null {
  const dirs = (process.env.PATH ?? '').split(':');
  const missing = ['pdftoppm', 'pdftotext'].filter((b) => !dirs.some((d) => existsSync(`${d}/${b}`)));
  return missing.length === 0 ? null : `${missing.join(' and ')} not found: apt-get install -y poppler-utils`;
}

/**
 * Every service this run needs and cannot reach, each with how to leave it
 * out. Empty when the run can go ahead.
 */
export async function missingServices(): Promise<string[]> {
  const problems: string[] = [];
  if (!POSTGRES_LEFT_OUT) {
    const p = await postgresProblem();
    if (p) problems.push(`${p}. Start it, or leave PostgreSQL out: DOSIS_TEST_BACKENDS=pglite`);
  }
  if (!KANNEL_LEFT_OUT) {
    const k = kannelProblem();
    if (k) problems.push(`${k}. Or leave Kannel out: DOSIS_SKIP_KANNEL=1`);
  }
  if (!HSM_LEFT_OUT) {
    const h = softHsmMissing();
    if (h) problems.push(`${h}. Or leave the PKCS#11 signer's tests out: DOSIS_SKIP_HSM=1`);
  }
  if (!BROWSER_LEFT_OUT) {
    const b = chromiumProblem();
    if (b) problems.push(`${b}. Or leave the browser tests out: DOSIS_SKIP_BROWSER=1`);
  }
  const p = popplerProblem();
  if (p) problems.push(p);
  return problems;
}

/** What this run leaves out because the user asked, in words. */
export function leftOutByRequest(): string[] {
  return [POSTGRES_LEFT_OUT, PGLITE_LEFT_OUT, KANNEL_LEFT_OUT, HSM_LEFT_OUT, BROWSER_LEFT_OUT].filter((x): x is string => x !== false).map((x) => x.slice(LEFT_OUT.length));
}
