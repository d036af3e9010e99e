/**
 * `npm run bench -- day`: the record day replayed (issue 20). District files
 * made by the project's own generator (generateDistrictFile: 200 facilities in
 * 10 districts, two files each; 61 % first doses, 30 % second, 9 % boosters,
 * each person's earlier dose a few thousand rows before the later one, 2 %
 * without a phone, some bad rows) are uploaded two at a time through `POST
 * /api/v1/imports` by the districts' tokens to a real `dosis serve`
 * (DOSIS_WORKER=false) beside a real `dosis worker` (sink gateway), on a fresh
 * PostgreSQL database of its own. Every few seconds meanwhile, and for a while
 * after the SMS have drained, it probes what people and staff do: a single
 * dose, searches (NIK; name in a district), a timeline, the pipeline view
 * (admin, district, facility) and its series; every minute a portal lookup,
 * timed until its one-time code reaches the gateway.
 *
 * Prints: rows/s per minute, CPU seconds per 1,000 rows of the server, the
 * worker and PostgreSQL, the SMS drain, probe latencies p50/p95/p99/max and
 * errors during the import and after, sizes per table and bytes per dose. It
 * checks that every row was recorded exactly once (accepted + rejected = rows,
 * rejected = the bad rows, no dose twice) and exits 1 otherwise.
 *
 * `--restart-postgres-at <s>` runs on a PostgreSQL cluster of its own
 * (test/helpers/cluster.ts) and restarts it that many seconds after the first
 * upload.
 *
 * `--satusehat` hands every dose to a SATUSEHAT peer in this process (test/
 * helpers/satusehat-peer.ts, which knows every NIK asked for) through the
 * worker's `sync` lane, and reports the drain time of that backlog beside the
 * code and SMS figures (the sync lane must not slow them).
 */
import { parseArgs } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { generateDistrictFile, toCsv } from '../test/fixtures/import-files.ts';
import { PeopleGenerator, doseRequest } from '../test/helpers/people.ts';
import { startCluster, type Cluster } from '../test/helpers/cluster.ts';
import { createScratchDatabase, keepAliveAgent, PG_URL, request, spawnDosis, startServer, uploadFile, type Child, type DosisServer } from '../test/helpers/server.ts';
import { CpuSampler, cpuSeconds, machineSeconds } from './lib/proc.ts';
import { housekeep, maintenance, parts, printParts, printStages, sizes as tableSizes } from './lib/sizes.ts';
import { openDb } from '../src/db/open.ts';
import { SatusehatPeer } from '../test/helpers/satusehat-peer.ts';

const HELP = `npm run bench -- day [options]

  --rows <n>                  rows in all (default 2000000), in 20 district files
  --bad <share>               share of bad rows, among first doses of one-dose people (default 0.004)
  --probe-every <s>           seconds between probe rounds (default 3)
  --after <s>                 seconds of probes once the SMS have drained (default 60)
  --restart-postgres-at <s>   run on a cluster of its own and restart it this long after the first upload
  --keep                      keep the generated files
  --satusehat                 hand every dose to a SATUSEHAT peer; report the sync backlog's drain time
  --worker-env <K=V,...>      settings for the worker only (e.g. DOSIS_WORKER_BATCH=100,DOSIS_DB_POOL=8)
  --statements                on a cluster of its own with pg_stat_statements: print the statements that took PostgreSQL's time
  --no-at-rest                end after the day: no housekeeping 30 days later and no bytes per dose at rest

PostgreSQL: TEST_DATABASE_URL or postgres://postgres@127.0.0.1:5432/test (a scratch
database is created next to it and dropped afterwards), unless --restart-postgres-at.`;

const { values: opts } = parseArgs({
  options: {
    rows: { type: 'string', default: '2000000' },
    bad: { type: 'string', default: '0.004' },
    'probe-every': { type: 'string', default: '3' },
    after: { type: 'string', default: '60' },
    'restart-postgres-at': { type: 'string' },
    keep: { type: 'boolean', default: false },
    satusehat: { type: 'boolean', default: false },
    'no-at-rest': { type: 'boolean', default: false },
    statements: { type: 'boolean', default: false },
    'worker-env': { type: 'string', default: '' },
    help: { type: 'boolean', default: false },
  },
});
if (opts.help) {
  console.log(HELP);
  process.exit(0);
}
const ROWS = Number(opts.rows);
const FILES = 20;
const DISTRICTS = 10;
const FACILITIES = 200;
const PROBE_MS = Number(opts['probe-every']) * 1000;
const AFTER_MS = Number(opts.after) * 1000;
const WORKER_APP = 'dosis_day_worker';
const RESTART_AT = opts['restart-postgres-at'] === undefined ? null : Number(opts['restart-postgres-at']) * 1000;
const ADMIN = 'dos_bench_day_admin_token_0123456789abcd';

const districtCode = (d: number) => `32${String(d).padStart(2, '0')}`;
const facilityCode = (d: number, k: number) => `PKM-D${String(d).padStart(2, '0')}-${String(k).padStart(3, '0')}`;

interface Probe {
  name: string;
  during: boolean;
  ms: number;
  ok: boolean;
}

const q = (xs: number[], f: number) => (xs.length ? xs[Math.min(xs.length - 1, Math.floor(f * xs.length))]! : NaN);
const fmt = (n: number) => (Number.isNaN(n) ? '–' : n >= 100 ? Math.round(n).toLocaleString('en') : n.toFixed(1));

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'dosis-day-'));
  let cluster: Cluster | null = null;
  let server: DosisServer | null = null;
  let worker: Child | null = null;
  let dropDb: (() => Promise<void>) | null = null;
  // The peer knows every NIK (a national registry) and lets the lot's expiry pass (the files' lots are in no register).
  const peer = opts.satusehat ? await SatusehatPeer.start({ knowsEveryone: true, tolerate: ['vaccineCode: KFA code', 'expirationDate'] }) : null;
  try {
    // The files: 2 per district, each district's 20 facilities in turn.
    const per = Math.ceil(ROWS / FILES);
    const files: { path: string; district: number; rows: number; good: number; bad: number }[] = [];
    const t0gen = Date.now();
    for (let f = 0; f < FILES; f++) {
      const district = 1 + (f % DISTRICTS);
      const rows = Math.min(per, ROWS - f * per);
      if (rows <= 0) break;
      const facilities = Array.from({ length: FACILITIES / DISTRICTS }, (_, k) => facilityCode(district, k + 1));
      const file = generateDistrictFile({ rows, seed: 300 + f, facilities, badShare: Number(opts.bad), noPhoneShare: 0.02, gap: Math.min(3000, Math.floor(rows / 4)) });
      const path = join(dir, `district-${district}-${f}.csv`);
      writeFileSync(path, toCsv(file, { bom: true }));
      files.push({ path, district, rows, good: file.good, bad: file.bad.size });
    }
    console.log(`${files.length} district files, ${ROWS.toLocaleString('en')} rows (${files.reduce((n, f) => n + f.bad, 0)} bad), made in ${((Date.now() - t0gen) / 1000).toFixed(0)} s${opts.keep ? ` in ${dir}` : ''}`);

    // The database: a scratch one on the machine's server, or a cluster of its own to restart.
    let url: string;
    let dbName: string;
    if (RESTART_AT !== null || opts.statements) {
      // Durable and configured as the machine's own server is (fsync and synchronous commit on, 128 MB of
      // shared buffers, no autovacuum), not as the test clusters are (no fsync): a record day is measured on
      // a database that keeps what it acknowledged.
      cluster = await startCluster({
        settings: {
          fsync: 'on',
          synchronous_commit: 'on',
          full_page_writes: 'on',
          shared_buffers: '128MB',
          autovacuum: 'off',
          max_wal_size: '1GB',
          ...(opts.statements ? { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track': 'all', 'pg_stat_statements.max': '2000' } : {}),
        },
      });
      const admin = new pg.Client({ connectionString: cluster.url });
      await admin.connect();
      await admin.query('CREATE DATABASE dosis_day');
      if (opts.statements) {
        const day = new pg.Client({ connectionString: cluster.url.replace(/\/postgres$/, '/dosis_day') });
        await day.connect();
        await day.query('CREATE EXTENSION pg_stat_statements');
        await day.end();
      }
      await admin.end();
      url = cluster.url.replace(/\/postgres$/, '/dosis_day');
      dbName = 'dosis_day';
    } else {
      const scratch = await createScratchDatabase('dosis_bench_day', PG_URL);
      url = scratch.url;
      dbName = scratch.name;
      dropDb = () => scratch.drop();
    }
    const env = { DATABASE_URL: url, DOSIS_ADMIN_TOKEN: ADMIN, SMS_GATEWAY: 'sink', LOG_LEVEL: 'warn', DOSIS_DEMO: 'false', ...(peer ? peer.env() : {}) };
    server = await startServer({ env: { ...env, DOSIS_WORKER: 'false' }, readyTimeoutMs: 180_000 });
    // The worker's connections named, so that PostgreSQL's CPU for the SMS is told apart from the imports' and the probes'.
    const workerUrl = new URL(url);
    workerUrl.searchParams.set('application_name', WORKER_APP);
    const workerEnv = Object.fromEntries(opts['worker-env'].split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    worker = spawnDosis(['worker'], { env: { ...env, ...workerEnv, DATABASE_URL: workerUrl.toString() } });
    const base = server.url;
    const auth = (token: string) => ({ authorization: `Bearer ${token}` });
    const call = async (method: string, path: string, token: string, body?: unknown, headers: Record<string, string> = {}) =>
      request(base, method, path, body, { ...auth(token), ...headers }, { agent, timeoutMs: 60_000 });
    const agent = keepAliveAgent(8);

    // Facilities and tokens: an uploading token per district, one facility's token for single doses.
    const districtTokens = new Map<number, string>();
    for (let d = 1; d <= DISTRICTS; d++) {
      for (let k = 1; k <= FACILITIES / DISTRICTS; k++) {
        const r = await call('POST', '/api/v1/facilities', ADMIN, { code: facilityCode(d, k), name: `Puskesmas ${d}-${k}`, regionCode: `${districtCode(d)}01` });
        if (r.status !== 201) throw new Error(`facility: ${r.status} ${r.text}`);
      }
      const t = await call('POST', '/api/v1/tokens', ADMIN, { role: 'district', region: districtCode(d), label: `district ${d}` });
      if (t.status !== 201) throw new Error(`district token: ${t.status} ${t.text}`);
      districtTokens.set(d, t.body.token as string);
    }
    const ft = await call('POST', '/api/v1/tokens', ADMIN, { role: 'facility', facility: facilityCode(1, 1), label: 'probe' });
    const facilityToken = ft.body.token as string;
    const districtToken = districtTokens.get(1)!;

    // A pool, not one client: it connects again after a PostgreSQL restart (--restart-postgres-at).
    const db = new pg.Pool({ connectionString: url, max: 2 });
    db.on('error', () => {});
    const count = async (sql: string) => Number((await db.query<{ n: string }>(sql)).rows[0]?.n ?? 0);
    // The peer wants each facility's SATUSEHAT Location.
    if (peer) await db.query("UPDATE facilities SET satusehat_location_id = 'LOC-' || code");

    // CPU before.
    const serverPid = server.pid;
    const workerPid = worker.pid;
    const isPg = (cmd: string) => cmd.startsWith('postgres:') && cmd.includes(` ${dbName} `);
    // PostgreSQL's backends come and go (the pools close idle connections): each is sampled every 2 s and
    // counted up to its last sample (a lower bound); the machine's busy time over the run bounds it from above.
    const pgCpu = new CpuSampler(isPg);
    pgCpu.sample();
    const workerBackends = new Set<number>();
    const sampleCpu = async () => {
      const a = await db.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1', [WORKER_APP]).catch(() => null);
      for (const r of a?.rows ?? []) workerBackends.add(r.pid);
      pgCpu.sample();
    };
    const sampling = setInterval(() => void sampleCpu(), 2000);
    const load0 = loadavg();
    const cpu0 = { server: cpuSeconds((_, p) => p === serverPid), worker: cpuSeconds((_, p) => p === workerPid), bench: process.cpuUsage(), machine: machineSeconds() };

    // The server's event loop delay (dosis_event_loop_delay_seconds: cumulative buckets), read at the first upload and at
    // the imports' end: how long a request waited, during the imports, for the import's CPU work in the same loop.
    const loopDelay = async (): Promise<Map<string, number> | null> => {
      const r = await request(base, 'GET', '/metrics', undefined, {}, { agent, timeoutMs: 60_000 }).catch(() => null);
      if (r?.status !== 200) return null;
      return new Map([...r.text.matchAll(/^dosis_event_loop_delay_seconds_bucket\{le="([^"]+)"\} (\d+)$/gm)].map((m) => [m[1] as string, Number(m[2])]));
    };
    const loop0 = await loopDelay();
    let loopEnd: Map<string, number> | null = null;

    // Uploads, two at a time; progress sampled for rows per minute.
    const started = Date.now();
    const imports: { id: string; file: (typeof files)[number]; status?: Record<string, unknown> }[] = [];
    let importing = true;
    const queue = [...files];
    const uploader = async () => {
      for (let f = queue.shift(); f; f = queue.shift()) {
        const token = districtTokens.get(f.district)!;
        const up = await uploadFile(base, token, f.path, `fileName=${encodeURIComponent(f.path.split('/').pop()!)}`);
        if (up.status !== 202) throw new Error(`upload: ${up.status} ${JSON.stringify(up.body)}`);
        const entry = { id: up.body.id, file: f } as (typeof imports)[number];
        imports.push(entry);
        for (;;) {
          const r = await call('GET', `/api/v1/imports/${entry.id}`, token).catch(() => null);
          if (r?.status === 200 && r.body.status !== 'running') {
            entry.status = r.body as Record<string, unknown>;
            break;
          }
          await new Promise((res) => setTimeout(res, 1000));
        }
      }
    };
    // CPU and SMS at the end of the imports and at the drain: the SMS's own cost is what the drain after the imports took.
    type Snap = { at: number; server: number; worker: number; pg: number; pgWorker: number; machine: number; sms: number };
    const snap = async (): Promise<Snap> => {
      await sampleCpu();
      return {
        at: Date.now() - started,
        server: cpuSeconds((_, p) => p === serverPid),
        worker: cpuSeconds((_, p) => p === workerPid),
        pg: pgCpu.seconds().seconds,
        pgWorker: pgCpu.seconds((pid) => workerBackends.has(pid)).seconds,
        machine: machineSeconds(),
        sms: await count('SELECT count(*) AS n FROM sms_sink').catch(() => 0),
      };
    };
    let importEndSnap: Snap | null = null;
    let drainSnap: Snap | null = null;
    const uploads = Promise.all([uploader(), uploader()]).finally(async () => {
      importEndSnap = await snap();
      loopEnd = await loopDelay();
      importing = false;
    });

    // Rows recorded, sampled each probe round.
    const progress: { at: number; rows: number }[] = [];
    const recorded = () => count('SELECT coalesce(sum(last_line - first_line + 1), 0) AS n FROM import_batches');

    // Probes.
    const probes: Probe[] = [];
    const people = new PeopleGenerator();
    let lastPersonId: string | null = null;
    const probe = async (name: string, run: () => Promise<boolean>) => {
      const during = importing;
      const t = performance.now();
      const ok = await run().catch(() => false);
      probes.push({ name, during, ms: performance.now() - t, ok });
    };
    const okStatus = (s: number) => s >= 200 && s < 300;
    const round = async () => {
      const p = people.next();
      await probe('single dose', async () => {
        const r = await call('POST', '/api/v1/vaccinations', facilityToken, doseRequest(p), { 'idempotency-key': `day-${p.nik}` });
        if (okStatus(r.status)) lastPersonId = r.body.person.id as string;
        return okStatus(r.status);
      });
      await probe('search NIK', async () => okStatus((await call('GET', `/api/v1/people?nik=${p.nik}`, ADMIN)).status));
      await probe('search name (district)', async () => okStatus((await call('GET', `/api/v1/people?name=${encodeURIComponent('Siti Rahayu')}`, districtToken)).status));
      if (lastPersonId) await probe('timeline', async () => okStatus((await call('GET', `/api/v1/people/${lastPersonId}/timeline`, ADMIN)).status));
      await probe('pipeline view (admin)', async () => okStatus((await call('GET', '/api/v1/stats/pipeline', ADMIN)).status));
      await probe('pipeline view (district)', async () => okStatus((await call('GET', '/api/v1/stats/pipeline', districtToken)).status));
      await probe('pipeline view (facility)', async () => okStatus((await call('GET', '/api/v1/stats/pipeline', facilityToken)).status));
      await probe('series 24 h (admin)', async () => okStatus((await call('GET', '/api/v1/stats/series', ADMIN)).status));
      await probe('series 24 h (district)', async () => okStatus((await call('GET', '/api/v1/stats/series', districtToken)).status));
    };
    // A portal lookup a minute (its rate limit: 10 per client per 10 minutes), timed until its code SMS reaches the sink.
    const codeSms: { during: boolean; ms: number | null }[] = [];
    const portal = () =>
      portalLookup().catch(() => {
        codeSms.push({ during: importing, ms: null });
      });
    const portalLookup = async () => {
      const p = people.next();
      const r = await call('POST', '/api/v1/vaccinations', facilityToken, doseRequest(p), { 'idempotency-key': `day-portal-${p.nik}` }).catch(() => null);
      if (!r || !okStatus(r.status)) return;
      const phone = (await db.query<{ phone: string }>('SELECT phone FROM people WHERE id = $1', [r.body.person.id])).rows[0]?.phone;
      const during = importing;
      const t = Date.now();
      await probe('portal lookup', async () => okStatus((await request(base, 'POST', '/api/v1/public/lookup', { nik: p.nik, birthDate: p.birthDate }, {}, { agent: false })).status));
      let ms: number | null = null;
      while (Date.now() - t < 120_000) {
        const n = await count(`SELECT count(*) AS n FROM sms_sink WHERE recipient = '${phone}' AND at >= to_timestamp(${t / 1000}) - interval '1 second' AND body ~ '\\d{6}'`).catch(() => 0);
        if (n > 0) {
          ms = Date.now() - t;
          break;
        }
        await new Promise((res) => setTimeout(res, 100));
      }
      codeSms.push({ during, ms });
    };

    const rollupLag: { during: boolean; s: number }[] = [];
    let restartedAt: number | null = null;
    let lastPortal = 0;
    let drainedAt: number | null = null;
    let endAt: number | null = null;
    let portalRun: Promise<void> = Promise.resolve();
    for (;;) {
      const roundStart = Date.now();
      if (RESTART_AT !== null && restartedAt === null && roundStart - started >= RESTART_AT && cluster) {
        restartedAt = roundStart - started;
        console.log(`restarting PostgreSQL at ${(restartedAt / 1000).toFixed(0)} s`);
        await cluster.restart();
      }
      progress.push({ at: roundStart - started, rows: await recorded().catch(() => progress.at(-1)?.rows ?? 0) });
      // How far behind the pipeline rollup is (the live tail each view reads from the source tables).
      const lag = await db.query<{ s: number | null }>('SELECT extract(epoch FROM now() - done_until)::float8 AS s FROM pipeline_rollup').catch(() => null);
      const lagS = lag?.rows[0]?.s;
      if (lagS != null) rollupLag.push({ during: importing, s: lagS });
      if (roundStart - lastPortal >= 61_000) {
        lastPortal = roundStart;
        portalRun = portalRun.then(portal);
      }
      await round();
      if (!importing && drainedAt === null) {
        // Through the claim's partial index of pending jobs (a few entries by now), not a read of every job: the bench's
        // own check read all 2 M jobs every round (0.5 s of PostgreSQL's CPU each) on the record day.
        const waiting = await count(
          "SELECT count(*) AS n FROM (SELECT kind FROM jobs WHERE status = 'pending' ORDER BY lane, run_at, id) j WHERE j.kind IN ('notify', 'sms_send')",
        ).catch(() => 1);
        if (waiting === 0) {
          drainedAt = Date.now() - started;
          drainSnap = await snap();
          endAt = Date.now() + AFTER_MS;
        }
      }
      if (endAt !== null && Date.now() >= endAt) break;
      const rest = PROBE_MS - (Date.now() - roundStart);
      if (rest > 0) await new Promise((res) => setTimeout(res, rest));
    }
    await uploads;
    await portalRun;
    // The SATUSEHAT backlog: until no dose waits (an hour at most).
    let syncDrainedAt: number | null = null;
    if (peer) {
      const deadline = Date.now() + 3_600_000;
      while (Date.now() < deadline) {
        if ((await count("SELECT count(*) AS n FROM satusehat_sync WHERE state = 'waiting'").catch(() => 1)) === 0) {
          syncDrainedAt = Date.now() - started;
          break;
        }
        await new Promise((res) => setTimeout(res, 1000));
      }
    }
    clearInterval(sampling);
    await sampleCpu();
    const pgOfWorker = pgCpu.seconds((pid) => workerBackends.has(pid)).seconds;
    const benchCpu = process.cpuUsage(cpu0.bench);
    const cpu = {
      server: cpuSeconds((_, p) => p === serverPid) - cpu0.server,
      worker: cpuSeconds((_, p) => p === workerPid) - cpu0.worker,
      pg: pgCpu.seconds(),
      bench: (benchCpu.user + benchCpu.system) / 1e6,
      machine: machineSeconds() - cpu0.machine,
    };
    const load1 = loadavg();

    // Figures.
    const importEnd = Math.max(...imports.map((i) => (typeof i.status?.finishedAt === 'string' ? new Date(i.status.finishedAt).getTime() : Date.now()))) - started;
    console.log(`\nimports: ${imports.length} files, last finished at ${(importEnd / 1000).toFixed(0)} s; SMS drained at ${((drainedAt ?? 0) / 1000).toFixed(0)} s after the first upload${restartedAt !== null ? `; PostgreSQL restarted at ${(restartedAt / 1000).toFixed(0)} s` : ''}`);
    console.log('\nrows/s per minute (from committed batches):');
    for (let m = 0; ; m++) {
      const inMinute = progress.filter((p) => p.at >= m * 60_000 && p.at < (m + 1) * 60_000);
      if (inMinute.length === 0) break;
      const before = progress.filter((p) => p.at < m * 60_000).at(-1) ?? { at: 0, rows: 0 };
      const last = inMinute.at(-1)!;
      console.log(`  minute ${String(m + 1).padStart(3)}: ${Math.round((last.rows - before.rows) / ((last.at - before.at) / 1000)).toLocaleString('en').padStart(7)} rows/s`);
    }
    const totalRows = await count('SELECT coalesce(sum(last_line - first_line + 1), 0) AS n FROM import_batches');
    const per1000 = (s: number) => ((s / totalRows) * 1000).toFixed(2);
    const runS = (Date.now() - started) / 1000;
    // The machine's busy time less this run's other processes: PostgreSQL's share at most (other users' work is in it too).
    const pgAtMost = Math.max(cpu.pg.seconds, cpu.machine - cpu.server - cpu.worker - cpu.bench);
    console.log(
      `\nCPU seconds (whole run, ${runS.toFixed(0)} s; load average ${load0.map((l) => l.toFixed(1)).join(' ')} at the start, ${load1.map((l) => l.toFixed(1)).join(' ')} at the end, ${cpus().length} CPUs):` +
        ` server ${cpu.server.toFixed(0)}, worker ${cpu.worker.toFixed(0)}, PostgreSQL ${cpu.pg.seconds.toFixed(0)} (its ${cpu.pg.processes} backends sampled every 2 s: a lower bound) to ${pgAtMost.toFixed(0)} (machine busy ${cpu.machine.toFixed(0)} of ${(runS * cpus().length).toFixed(0)} less server, worker and this bench ${cpu.bench.toFixed(0)}: an upper bound on a shared machine)`,
    );
    console.log(
      `CPU seconds per 1,000 rows: server ${per1000(cpu.server)}, worker ${per1000(cpu.worker)}, PostgreSQL ${per1000(cpu.pg.seconds)}–${per1000(pgAtMost)}; ` +
        `total ${per1000(cpu.server + cpu.worker + cpu.pg.seconds)}–${per1000(cpu.server + cpu.worker + pgAtMost)}`,
    );
    const phase = (what: string, a: Snap | null, b: Snap | null) => {
      if (!a || !b) return;
      const n = b.sms - a.sms;
      const cpuOf = { server: b.server - a.server, worker: b.worker - a.worker, pg: b.pg - a.pg, pgWorker: b.pgWorker - a.pgWorker, machine: b.machine - a.machine };
      const per = (x: number) => (n > 0 ? ((x / n) * 1000).toFixed(2) : '–');
      console.log(
        `  ${what} (${(a.at / 1000).toFixed(0)}–${(b.at / 1000).toFixed(0)} s): ${n.toLocaleString('en')} SMS, ${((n * 1000) / Math.max(1, b.at - a.at)).toFixed(0)}/s; ` +
          `CPU s server ${cpuOf.server.toFixed(1)}, worker ${cpuOf.worker.toFixed(1)}, PostgreSQL ≥ ${cpuOf.pg.toFixed(1)} (the worker's backends ${cpuOf.pgWorker.toFixed(1)}; machine busy ${cpuOf.machine.toFixed(0)} of ${(((b.at - a.at) / 1000) * cpus().length).toFixed(0)}); ` +
          `per 1,000 SMS: server ${per(cpuOf.server)}, worker ${per(cpuOf.worker)}, PostgreSQL ≥ ${per(cpuOf.pg)} (the worker's backends ${per(cpuOf.pgWorker)}), total ≥ ${per(cpuOf.server + cpuOf.worker + cpuOf.pg)}`,
      );
    };
    console.log('by phase (the probes run in both):');
    phase('the imports', { at: 0, server: cpu0.server, worker: cpu0.worker, pg: 0, pgWorker: 0, machine: cpu0.machine, sms: 0 }, importEndSnap);
    console.log(`  the worker's PostgreSQL backends, whole run: ${pgOfWorker.toFixed(1)} CPU s (${per1000(pgOfWorker)} per 1,000 rows); the rest (imports, probes, rollup): ${(cpu.pg.seconds - pgOfWorker).toFixed(1)}`);
    phase('the SMS drain after the imports', importEndSnap, drainSnap);
    if (peer) {
      const st = await db.query<{ state: string; n: string }>('SELECT state, count(*) AS n FROM satusehat_sync GROUP BY 1 ORDER BY 1');
      const by = Object.fromEntries(st.rows.map((r) => [r.state, Number(r.n)]));
      console.log(
        `SATUSEHAT: ${Object.entries(by).map(([k, v]) => `${k} ${v.toLocaleString('en')}`).join(', ')}; backlog drained ` +
          (syncDrainedAt === null ? 'NOT within an hour' : `${(syncDrainedAt / 1000).toFixed(0)} s after the first upload, ${((syncDrainedAt - importEnd) / 1000).toFixed(0)} s after the last import`) +
          `; peer answers ${[...peer.counts.byStatus].map(([k, v]) => `${k}×${v}`).join(' ')}`,
      );
    }
    const sinkSpan = (await db.query<{ first: Date; last: Date; n: string }>('SELECT min(at) AS first, max(at) AS last, count(*) AS n FROM sms_sink')).rows[0]!;
    console.log(`SMS to the sink: ${Number(sinkSpan.n).toLocaleString('en')}, the last ${((sinkSpan.last.getTime() - started) / 1000).toFixed(0)} s after the first upload`);
    const codes = codeSms.filter((c) => c.ms !== null).map((c) => c.ms!);
    console.log(`one-time code SMS: ${codeSms.length} lookups, reached the sink in ${codes.map((c) => (c / 1000).toFixed(1)).join(', ')} s${codeSms.some((c) => c.ms === null) ? ` (${codeSms.filter((c) => c.ms === null).length} not within 120 s)` : ''}`);

    const lagOf = (during: boolean) => {
      const xs = rollupLag.filter((l) => l.during === during).map((l) => l.s);
      return xs.length ? `max ${fmt(Math.max(...xs))} s, median ${fmt(q(xs.sort((a, b) => a - b), 0.5))} s` : '–';
    };
    console.log(`pipeline rollup behind now (sampled each probe round): during the import ${lagOf(true)}; after ${lagOf(false)}`);

    console.log('\nprobe latencies, ms          during the import: n  err   p50   p95   p99   max  |  after: n  err   p50   p95   p99   max');
    for (const name of [...new Set(probes.map((p) => p.name))]) {
      const cols = [true, false].map((during) => {
        const xs = probes.filter((p) => p.name === name && p.during === during);
        const ms = xs.map((p) => p.ms).sort((a, b) => a - b);
        return `${String(xs.length).padStart(4)} ${String(xs.filter((p) => !p.ok).length).padStart(4)} ${[0.5, 0.95, 0.99, 1].map((f) => fmt(q(ms, f)).padStart(5)).join(' ')}`;
      });
      console.log(`  ${name.padEnd(26)} ${' '.repeat(14)}${cols[0]}  |  ${' '.repeat(6)}${cols[1]}`);
    }
    const loopAtEnd = loopEnd as Map<string, number> | null;
    if (loop0 && loopAtEnd) {
      // Samples of a 20 ms timer during the imports; a bucket's count is of samples at most that late.
      const all = (loopAtEnd.get('+Inf') ?? 0) - (loop0.get('+Inf') ?? 0);
      const over = [...loopAtEnd.keys()].filter((le) => le !== '+Inf').map((le) => {
        const n = all - ((loopAtEnd.get(le) ?? 0) - (loop0.get(le) ?? 0));
        return `> ${Number(le) * 1000} ms ${n} (${((100 * n) / Math.max(1, all)).toFixed(1)} %)`;
      });
      console.log(`\nserver event loop delay during the imports (${all} samples of a 20 ms timer): ${over.join(', ')}`);
    }

    if (opts.statements) {
      // Where PostgreSQL's time went: statements by total time (those run inside functions and triggers counted on their own as well).
      const st = await db.query<{ ms: number; calls: number; rows: number; q: string; top: boolean }>(
        `SELECT round(total_exec_time)::int8 AS ms, calls, rows, toplevel AS top, regexp_replace(left(query, 160), '\\s+', ' ', 'g') AS q
           FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 30`,
      );
      console.log('\nstatements by PostgreSQL time (ms, calls, rows; * = inside a function or trigger):');
      for (const r of st.rows) console.log(`  ${String(r.ms).padStart(9)} ${String(r.calls).padStart(8)} ${String(r.rows).padStart(9)} ${r.top ? ' ' : '*'} ${r.q}`);
      // The pipeline rollup's own statements (records/pipeline-rollup.ts: those that write the hours), wherever they rank.
      const rollup = await db.query<{ ms: number; calls: number; per: number; blocks: number; q: string }>(
        `SELECT round(total_exec_time)::int8 AS ms, calls, round((total_exec_time / greatest(calls, 1))::numeric, 1)::float8 AS per,
                ((shared_blks_hit + shared_blks_read) / greatest(calls, 1))::int8 AS blocks, regexp_replace(left(query, 100), '\\s+', ' ', 'g') AS q
           FROM pg_stat_statements WHERE toplevel AND query ~ 'INSERT INTO pipeline_hours' ORDER BY total_exec_time DESC`,
      );
      console.log('\nthe pipeline rollup\'s statements (ms, calls, ms per call, buffers per call):');
      for (const r of rollup.rows) console.log(`  ${String(r.ms).padStart(9)} ${String(r.calls).padStart(8)} ${String(r.per).padStart(9)} ${String(r.blocks).padStart(9)}   ${r.q}`);
    }

    // Sizes.
    const sizes = await db.query<{ name: string; bytes: string }>(
      "SELECT c.relname AS name, pg_total_relation_size(c.oid) AS bytes FROM pg_class c WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace ORDER BY 2 DESC LIMIT 12",
    );
    const doses = await count('SELECT count(*) AS n FROM vaccinations');
    const all = await count("SELECT sum(pg_total_relation_size(c.oid)) AS n FROM pg_class c WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace");
    console.log(`\nsizes (with indexes and TOAST): ${doses.toLocaleString('en')} doses, ${(all / 2 ** 20).toFixed(0)} MiB, ${Math.round(all / doses).toLocaleString('en')} bytes per dose`);
    for (const s of sizes.rows) console.log(`  ${s.name.padEnd(24)} ${(Number(s.bytes) / 2 ** 20).toFixed(1).padStart(8)} MiB  ${Math.round(Number(s.bytes) / doses).toLocaleString('en').padStart(6)} B/dose`);

    // Checks.
    const problems: string[] = [];
    if (peer && syncDrainedAt === null) problems.push('the SATUSEHAT backlog did not drain');
    for (const i of imports) {
      const s = i.status ?? {};
      if (s.status !== 'done') problems.push(`import ${i.id}: ${String(s.status)}${s.reason ? ` (${JSON.stringify(s.reason)})` : ''}`);
      if (Number(s.accepted) + Number(s.rejected) + Number(s.alreadyRecorded ?? 0) !== i.file.rows) problems.push(`import ${i.id}: accepted ${String(s.accepted)} + rejected ${String(s.rejected)} ≠ ${i.file.rows} rows`);
      if (Number(s.rejected) !== i.file.bad) problems.push(`import ${i.id}: ${String(s.rejected)} rejected, ${i.file.bad} bad rows`);
    }
    const twice = await count('SELECT count(*) AS n FROM (SELECT person_id, dose_number FROM vaccinations GROUP BY 1, 2 HAVING count(*) > 1) x');
    if (twice > 0) problems.push(`${twice} doses recorded twice`);
    if (!server.running) problems.push('dosis serve exited');
    if (!worker.running) problems.push('dosis worker exited');
    const accepted = imports.reduce((n, i) => n + Number(i.status?.accepted ?? 0), 0);
    console.log(`\nrecorded exactly: ${accepted.toLocaleString('en')} accepted + ${imports.reduce((n, i) => n + Number(i.status?.rejected ?? 0), 0).toLocaleString('en')} rejected of ${ROWS.toLocaleString('en')} rows; ${twice} twice; serve ${server.running ? 'running' : 'EXITED'}, worker ${worker.running ? 'running' : 'EXITED'}`);
    await db.end();
    agent.destroy();
    if (!opts['no-at-rest']) {
      // At rest: the processes stopped, the rollup and housekeeping run as the worker runs them 30 days later
      // (past every keeping period), then the space the rows that stay take (VACUUM FULL of Dosis's tables).
      await server.stop();
      await worker.stop();
      const rest = await openDb({ databaseUrl: url, dataDir: dir, poolSize: 2 });
      try {
        const t0 = performance.now();
        const day = await tableSizes(rest);
        await housekeep(rest, new Date(Date.now() + 30 * 86_400_000), 'at now + 30 days');
        const housekept = await tableSizes(rest);
        await maintenance(rest, `VACUUM FULL ${[...housekept.keys()].join(', ')}`);
        const atRest = await tableSizes(rest);
        console.log(`\nat rest (housekeeping and VACUUM FULL in ${((performance.now() - t0) / 1000).toFixed(0)} s):`);
        printParts('at rest', atRest, await parts(rest), doses);
        printStages([['end of day', day], ['housekept', housekept], ['at rest', atRest]], doses, 450_000_000);
        const perDose = [...atRest.values()].reduce((a, x) => a + x.bytes, 0) / doses;
        if (perDose > 2.5 * 1024) problems.push(`${Math.round(perDose)} bytes per dose at rest (target ≤ 2.5 KB)`);
      } finally {
        await rest.close();
      }
    }
    if (problems.length) {
      console.error(`\nFAILED:\n  ${problems.join('\n  ')}`);
      return 1;
    }
    return 0;
  } finally {
    await server?.stop();
    await worker?.stop();
    await dropDb?.().catch(() => {});
    await cluster?.stop();
    await peer?.close();
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  }
}

process.exit(await main());
