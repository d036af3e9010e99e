/**
 * Runs the test suite: checks that the services the tests need are there
 * (PostgreSQL, Kannel, Chromium, poppler) unless the user left them out,
 * prepares a PGlite template data directory once, then runs every test file
 * with node:test, each file in its own process. Arguments narrow the files:
 * `npm test -- test/records`. With `--checks` (as `npm test` runs it) the
 * typecheck and lint (scripts/checks.ts, one process) run beside the tests, in
 * the main lane's priority: they are under a minute of CPU on one core, which
 * the waits of the Kannel lane absorb, instead of a minute of wall time before
 * the first test; their output is printed at the end, and a failure fails the
 * run.
 *
 * Two lanes run side by side. The files that drive a real Kannel mostly wait
 * (on outages, restarts, report timeouts: a few seconds of CPU in a minute or
 * two) but their deadlines need the CPU at once when they wake: they run one at
 * a time at normal priority. Every other file runs in the main lane, one per
 * core, at a lower priority (nice 5), so that it fills the cores whenever the
 * Kannel lane waits and yields them when it does not. The main lane starts
 * the files that took longest in the previous run first (test-results/
 * durations.json), so that no long file is left running alone at the end.
 * Its short files run several to a process (scripts/test-groups.ts).
 *
 * The browser test files share one Chromium, started before the lanes at the
 * main lane's priority (scripts/test-chromium.ts) and closed when they end:
 * each file's launchBrowser() connects to it and takes a fresh context (its own
 * cookies, storage, cache and service workers) instead of launching a Chromium
 * of its own: 0.2 to 0.4 s of CPU less each (measured). A file with flags of
 * its own (the verifier's fake camera) still launches its own. Should the
 * shared Chromium end before the lanes do, the run fails.
 *
 * It ends with a summary of its own: tests by kind (unit, PGlite, PostgreSQL,
 * Kannel, browser, conformance), what was left out on request, every skip with
 * its reason, and the ten slowest files. A skip nobody asked for fails the
 * run, as does a kind that ran no test when DOSIS_TEST_EVERY_KIND=1 (CI).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, globSync } from 'node:fs';
import { availableParallelism, setPriority } from 'node:os';
import { relative, resolve } from 'node:path';
import { createPglite } from '../src/db/open.ts';
import { BROWSER_LEFT_OUT, LEFT_OUT, PGLITE_TEMPLATE, POSTGRES_LEFT_OUT, SHARED_CHROMIUM_ENV, TEST_NODE_FLAGS, leftOutByRequest, missingServices, vacuumTestCatalogs } from '../test/helpers/services.ts';
import { makeMigratedTemplate } from '../test/helpers/pglite-template.ts';
import { groupShortFiles, membersOf } from './test-groups.ts';
import type { RunSummary, TestOutcome } from './test-summary.ts';

const started = Date.now();
mkdirSync('test-results', { recursive: true });

const argv = process.argv.slice(2);
const withChecks = argv.includes('--checks');
const args = argv.filter((a) => a !== '--checks');
const files = globSync('test/**/*.test.ts')
  .filter((f) => args.length === 0 || args.some((a) => f.startsWith(a.replace(/^\.\//, ''))))
  .sort();
if (files.length === 0) {
  console.error(`No test files match ${args.join(' ')}`);
  process.exit(1);
}

const problems = await missingServices();
if (problems.length > 0) {
  console.error('The tests cannot run: a service they need is missing.');
  for (const p of problems) console.error(`  - ${p}`);
  process.exit(1);
}

// V8's code cache of every module loaded, kept across processes and runs: each test file and
// each `dosis` it starts loads the same thousand modules (about 0.3 s of CPU less per process).
// An empty cache (a fresh clone) is filled first, on the other core while the PGlite templates
// are made (scripts/warm-compile-cache.ts says why).
const COMPILE_CACHE = process.env.NODE_COMPILE_CACHE ?? resolve('test-results/compile-cache');
const warmCache = existsSync(COMPILE_CACHE) ? Promise.resolve() : warmCompileCache();
// The catalogs earlier runs left dead rows in (services.ts, vacuumTestCatalogs), meanwhile too.
const catalogs = POSTGRES_LEFT_OUT
  ? Promise.resolve()
  : vacuumTestCatalogs().then(
      (said) => console.log(said),
      (e: unknown) => console.log(`PostgreSQL catalogs not vacuumed: ${e instanceof Error ? e.message : String(e)}`),
    );

if (!existsSync(PGLITE_TEMPLATE)) {
  const t0 = Date.now();
  const lite = await createPglite();
  const dump = await lite.dumpDataDir('none');
  writeFileSync(PGLITE_TEMPLATE, Buffer.from(await dump.arrayBuffer()));
  await lite.close();
  console.log(`PGlite template made in ${Date.now() - t0} ms`);
}
// The same with a migrated schema in it, for the test databases (test/helpers/pglite-template.ts).
{
  const t0 = Date.now();
  if (await makeMigratedTemplate()) console.log(`PGlite migrated template made in ${Date.now() - t0} ms`);
}
await warmCache;
await catalogs;

/** Loads the test processes' modules once, in a process of its own, to fill COMPILE_CACHE (never fails the run). */
async function warmCompileCache(): Promise<void> {
  const t0 = Date.now();
  const child = spawn(process.execPath, [...TEST_NODE_FLAGS, 'scripts/warm-compile-cache.ts'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, NODE_NO_WARNINGS: '1', NODE_COMPILE_CACHE: COMPILE_CACHE },
  });
  let said = '';
  child.stderr.on('data', (b: Buffer) => (said += b.toString()));
  const code = await new Promise<number | null>((done) => child.on('close', done));
  const line = said.trim().split('\n').filter((l) => l.startsWith('compile cache:')).pop();
  console.log(code === 0 && line ? `${line}, in ${Date.now() - t0} ms` : `compile cache not filled ahead (exit ${code}): ${said.trim().slice(0, 500)}`);
}

// Main-lane files at once (DOSIS_TEST_CONCURRENCY), one per core by default. A third file
// of the same priority ran the whole suite in 6.0 instead of 7.1 minutes here, but made the
// timings of the Kannel fault tests flaky (an SMSC outage of 20 s then ran past its
// deadline): hence the Kannel lane, one file at a time, ahead of the main lane's.
/**
 * Sets a child's nice value at once after its spawn, before it starts anything (what it starts
 * inherits it). Where that is not permitted, the child runs at normal priority.
 */
function lowerPriority(child: ChildProcess, nice: number): void {
  if (child.pid === undefined) return;
  try {
    setPriority(child.pid, nice);
  } catch {
    // not permitted here
  }
}
const CONCURRENCY = Math.max(1, Number(process.env.DOSIS_TEST_CONCURRENCY) || availableParallelism());
const MAIN_LANE_NICE = 5;
const SUMMARY = 'test-results/summary.json';
const DURATIONS = 'test-results/durations.json';

// Longest first, by the previous run's durations (a file never timed goes first: it may be long).
// A fresh clone has no previous run: it takes the durations of a full run on a quiet machine kept
// beside this script (scripts/test-durations.json; refresh it from test-results/durations.json
// when the suite changes much). Without an order, a long file left to the end ran alone.
const readDurations = (path: string): Record<string, number> => (existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Record<string, number>) : {});
const lastMs: Record<string, number> = { ...readDurations('scripts/test-durations.json'), ...readDurations(DURATIONS) };
const waitsOnKannel = (f: string): boolean => readFileSync(f, 'utf8').includes('startKannel(');
// The main lane's short files run several to a process (scripts/test-groups.ts), unless DOSIS_TEST_GROUPS=0.
const grouping = groupShortFiles(
  files.filter((f) => !waitsOnKannel(f)),
  lastMs,
  process.env.DOSIS_TEST_GROUPS !== '0',
);
const byExpected = (list: string[]): string[] =>
  [...list].sort((a, b) => (grouping.expectedMs.get(b) ?? Infinity) - (grouping.expectedMs.get(a) ?? Infinity) || a.localeCompare(b));
const lanes = [
  { name: 'kannel', files: files.filter(waitsOnKannel), concurrency: 1, nice: 0 },
  { name: 'main', files: byExpected(grouping.entries), concurrency: CONCURRENCY, nice: MAIN_LANE_NICE },
].filter((l) => l.files.length > 0);

/**
 * Typecheck (server and web) and lint, in one process that builds each TypeScript program once
 * (scripts/checks.ts); its output is kept for the summary: each check's line when all passed,
 * everything it printed when one failed.
 */
async function runChecks(): Promise<{ ok: boolean; lines: string[] }> {
  const t0 = Date.now();
  const child = spawn(process.execPath, ['scripts/checks.ts'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_COMPILE_CACHE: COMPILE_CACHE } });
  lowerPriority(child, MAIN_LANE_NICE);
  let text = '';
  child.stdout.on('data', (b: Buffer) => (text += b.toString()));
  child.stderr.on('data', (b: Buffer) => (text += b.toString()));
  const code = await new Promise<number | null>((done) => child.on('close', done));
  const printed = text.trimEnd().split('\n');
  if (code === 0) return { ok: true, lines: printed.filter((l) => /^(typecheck|typecheck \(web\)|lint): /.test(l)) };
  return { ok: false, lines: [`typecheck and lint: FAILED in ${((Date.now() - t0) / 1000).toFixed(0)} s`, ...printed.map((l) => `  ${l}`)] };
}
const checks = withChecks ? runChecks() : Promise.resolve({ ok: true, lines: [] as string[] });

/**
 * The run's one Chromium (scripts/test-chromium.ts), in a process of its own at the main lane's
 * priority, set at once after the spawn: Chromium and the renderers it forks later inherit it, as
 * they did from the test files that launched their own (run as root, Chromium sets some of its
 * processes' priorities itself, there as here). Its address is passed to the lanes
 * (SHARED_CHROMIUM_ENV); stop() ends its stdin (it then closes the browser; it also does when this
 * process dies) and answers whether it lived until then.
 */
async function startChromium(): Promise<{ wsEndpoint: string; stop(): Promise<boolean> }> {
  const child = spawn(process.execPath, ['scripts/test-chromium.ts'], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, NODE_COMPILE_CACHE: COMPILE_CACHE } });
  lowerPriority(child, MAIN_LANE_NICE);
  const exited = new Promise<number | null>((done) => child.on('close', done));
  child.stdin.on('error', () => {}); // it ended already: stop() says so
  let printed = '';
  const wsEndpoint = await new Promise<string | undefined>((done) => {
    child.stdout.on('data', (b: Buffer) => {
      printed += b.toString();
      if (printed.includes('\n')) done(printed.split('\n')[0]);
    });
    void exited.then(() => done(undefined));
  });
  if (!wsEndpoint) {
    console.error(`The run's shared Chromium did not start (scripts/test-chromium.ts ended: see above).`);
    process.exit(1);
  }
  return {
    wsEndpoint,
    async stop() {
      child.stdin.end();
      return (await exited) === 0;
    },
  };
}
// Only for files that take launchBrowser()'s browser: launchChromium() launches its own.
const sharedChromium = !BROWSER_LEFT_OUT && files.some((f) => readFileSync(f, 'utf8').includes('launchBrowser(')) ? await startChromium() : undefined;
const laneEnv = sharedChromium ? { [SHARED_CHROMIUM_ENV]: sharedChromium.wsEndpoint } : {};

rmSync(SUMMARY, { force: true });
const statuses = await Promise.all(
  lanes.map(async (lane) => {
    const destination = `test-results/summary-${lane.name}.json`;
    rmSync(destination, { force: true });
    const child = spawn(
      process.execPath,
      [
        ...TEST_NODE_FLAGS,
        '--test',
        `--test-concurrency=${lane.concurrency}`,
        '--test-timeout=600000',
        '--test-reporter=spec',
        '--test-reporter-destination=stdout',
        '--test-reporter=./scripts/test-summary.ts',
        `--test-reporter-destination=${destination}`,
        ...lane.files,
      ],
      { stdio: 'inherit', env: { ...process.env, ...laneEnv, NODE_NO_WARNINGS: '1', NODE_COMPILE_CACHE: COMPILE_CACHE } },
    );
    // Before the child starts its test files (they inherit it): set at once after the spawn.
    if (lane.nice !== 0) lowerPriority(child, lane.nice);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    return { destination, status: code ?? 1 };
  }),
);
const chromiumLived = (await sharedChromium?.stop()) ?? true;
const status = statuses.find((s) => s.status !== 0)?.status ?? 0;
const missing = statuses.filter((s) => !existsSync(s.destination));
if (missing.length > 0) {
  console.error(`The test runner wrote no summary (${missing.map((s) => s.destination).join(', ')}).`);
  process.exit(status || 1);
}
const run: RunSummary = { files: [], tests: [], skippedSuites: [], notes: [], topLevel: [] };
for (const s of statuses) {
  const part = JSON.parse(readFileSync(s.destination, 'utf8')) as RunSummary;
  run.files.push(...part.files);
  run.tests.push(...part.tests);
  run.skippedSuites.push(...part.skippedSuites);
  run.notes.push(...part.notes);
  run.topLevel.push(...part.topLevel);
  rmSync(s.destination, { force: true });
}
// Each group's members in place of the group (their durations are what the next run groups by).
const groupSummaries = run.files.filter((f) => grouping.members.has(relative(process.cwd(), f.file)));
run.files = membersOf(run, grouping);
writeFileSync(SUMMARY, JSON.stringify(run));
for (const f of run.files) lastMs[relative(process.cwd(), f.file)] = f.ms;
writeFileSync(DURATIONS, JSON.stringify(lastMs, null, 1));

// Kinds, from what a file does (its source) and the backend its suites name.
const KINDS = ['unit', 'PGlite', 'PostgreSQL', 'Kannel', 'browser', 'conformance'] as const;
type Kind = (typeof KINDS)[number];
const sourceOf = new Map<string, string>();
function kindsOf(t: { file: string; path: string[] }): Kind[] {
  let src = sourceOf.get(t.file);
  if (src === undefined) {
    src = existsSync(t.file) ? readFileSync(t.file, 'utf8') : '';
    sourceOf.set(t.file, src);
  }
  const names = t.path.join(' › ');
  const kinds: Kind[] = [];
  if (/\[pglite\]|^PGlite\b/m.test(t.path.join('\n'))) kinds.push('PGlite');
  if (/\[postgres\]|^PostgreSQL\b/m.test(t.path.join('\n'))) kinds.push('PostgreSQL');
  if (src.includes('startKannel(')) kinds.push('Kannel');
  if (src.includes('launchBrowser(') || src.includes('launchChromium(')) kinds.push('browser');
  if (/conformance\.test\.ts$|verifier-core\.test\.ts$/.test(t.file) || /\bEU DCC corpus\b/.test(names)) kinds.push('conformance');
  return kinds.length === 0 ? ['unit'] : kinds;
}

const tally = new Map<Kind | 'all', Record<TestOutcome['status'], number>>();
const count = (k: Kind | 'all', s: TestOutcome['status']): void => {
  const row = tally.get(k) ?? { passed: 0, failed: 0, skipped: 0, todo: 0 };
  row[s]++;
  tally.set(k, row);
};
for (const t of run.tests) {
  count('all', t.status);
  for (const k of kindsOf(t)) count(k, t.status);
}

const rel = (f: string): string => relative(process.cwd(), f);
const line = (cells: (string | number)[], widths: number[]): string => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]!) : String(c).padStart(widths[i]!))).join('  ');
const out: string[] = ['', '== Dosis test summary'];
const W = [12, 7, 7, 8];
out.push(line(['kind', 'passed', 'failed', 'skipped'], W));
for (const k of [...KINDS, 'all'] as const) {
  const row = tally.get(k) ?? { passed: 0, failed: 0, skipped: 0, todo: 0 };
  out.push(line([k, row.passed, row.failed, row.skipped], W));
}
for (const n of run.notes) out.push(n);

const asked = leftOutByRequest();
if (asked.length > 0) out.push(`left out on request: ${asked.join('; ')}`);

// Skips, grouped by reason: whole suites first (their tests never ran), then single tests.
const skips = new Map<string, { suites: number; tests: number; files: Set<string> }>();
const addSkip = (reason: string, file: string, suite: boolean): void => {
  const s = skips.get(reason) ?? { suites: 0, tests: 0, files: new Set<string>() };
  if (suite) s.suites++;
  else s.tests++;
  s.files.add(rel(file));
  skips.set(reason, s);
};
for (const s of run.skippedSuites) addSkip(s.reason, s.file, true);
for (const t of run.tests) if (t.status === 'skipped') addSkip(t.reason ?? 'skipped', t.file, false);
let unasked = 0;
for (const [reason, s] of skips) {
  const what = [s.suites > 0 ? `${s.suites} suite${s.suites > 1 ? 's' : ''}` : '', s.tests > 0 ? `${s.tests} test${s.tests > 1 ? 's' : ''}` : ''].filter(Boolean).join(' and ');
  const byRequest = reason.startsWith(LEFT_OUT);
  if (!byRequest) unasked += s.suites + s.tests;
  out.push(`skipped${byRequest ? ' (on request)' : ' (NOT asked for)'}: ${what} (${byRequest ? reason.slice(LEFT_OUT.length) : reason}) in ${[...s.files].join(', ')}`);
}
if (skips.size === 0) out.push('skipped: none');
for (const t of run.tests) if (t.status === 'todo') out.push(`todo (a known defect, does not fail the run): ${t.path.join(' › ')}: ${t.reason ?? ''} in ${rel(t.file)}`);

const slowest = [...run.files].sort((a, b) => b.ms - a.ms).slice(0, 10);
out.push('slowest files:');
for (const f of slowest) out.push(`  ${(f.ms / 1000).toFixed(1).padStart(7)} s  ${rel(f.file)}${f.passed ? '' : '  (failed)'}`);
const checked = await checks;
out.push(...checked.lines);
const grouped = [...grouping.members.values()].reduce((n, m) => n + m.length, 0);
const groupsSaid = grouped > 0 ? `, ${grouped} of them in ${grouping.members.size} groups of one process each (${(groupSummaries.reduce((s, g) => s + g.ms, 0) / 1000).toFixed(0)} s in all)` : '';
const laneSaid = (l: (typeof lanes)[number]): string =>
  l.name === 'main' ? `main lane ${l.files.length - grouping.members.size + grouped}${groupsSaid}` : `${l.name} lane ${l.files.length}`;
out.push(`files: ${run.files.length}, ${lanes.map((l) => `${laneSaid(l)} (${l.concurrency} at a time)`).join(', ')}, whole run ${((Date.now() - started) / 1000).toFixed(0)} s${withChecks ? ' (typecheck and lint beside the tests)' : ' (tests only)'}`);

let exit = status;
if (!chromiumLived) {
  out.push(`FAILED: the run's shared Chromium ended before the tests did (see above)`);
  exit ||= 1;
}
if (!checked.ok) {
  out.push('FAILED: typecheck or lint (see above)');
  exit ||= 1;
}
if (unasked > 0) {
  out.push(`FAILED: ${unasked} skipped that nobody asked to leave out (see above)`);
  exit ||= 1;
}
if (process.env.DOSIS_TEST_EVERY_KIND === '1') {
  const empty = KINDS.filter((k) => (tally.get(k)?.passed ?? 0) === 0);
  if (empty.length > 0) {
    out.push(`FAILED: no test of kind ${empty.join(', ')} passed (DOSIS_TEST_EVERY_KIND=1)`);
    exit ||= 1;
  }
}
writeFileSync('test-results/summary.txt', out.join('\n') + '\n');
console.log(out.join('\n'));
process.exit(exit);
