/**
 * `npm run bench -- queue`: the certificate SMS drain of the real worker
 * (issue 20: on the 2 M-row day it fell from ≈ 1,670 SMS/s at 100 k rows to
 * ≈ 300/s at 2 M) as the queue's tables collect dead row versions, on
 * PostgreSQL, without autovacuum (the machine's server runs without it).
 *
 * A scratch database is filled by SQL with `--jobs` doses (people, doses,
 * certificates — unsigned: nothing here verifies them — and one pending
 * `notify` job each, as an import leaves them; test/helpers/pipeline.ts), then
 * ANALYZEd (as the import does) and kept as a template. Each mode of
 * `--modes` drains a copy of it with the worker `dosis worker` runs (its
 * handlers, batch and concurrency from the configuration, the sink gateway,
 * the pipeline rollup on its timer), in this process:
 * - `none`: nothing vacuums;
 * - `periodic`: the benchmark runs `VACUUM (SKIP_LOCKED)` of the queue's tables
 *   every `--vacuum-every` jobs done;
 * - `maintenance`: the worker's own `queue_vacuum` job (notify/vacuum.ts).
 * Per `--step` jobs done: SMS/s, the claim's round trip (p50/p99, the worker's
 * own claims, timed around the query), dead row versions and sizes.
 */
import { parseArgs } from 'node:util';
import { loadavg } from 'node:os';
import { type ScratchDatabase, createScratchDatabase } from '../test/helpers/server.ts';
import { fillPipeline } from '../test/helpers/pipeline.ts';
import { openDb } from '../src/db/open.ts';
import { migrate } from '../src/db/migrate.ts';
import { type Db, postgresDb } from '../src/db/client.ts';
import { parseConfig } from '../src/config.ts';
import { createNotify, schedulePeriodicJobs } from '../src/notify/service.ts';
import { CLAIM_SQL } from '../src/notify/outbox.ts';
import { startPipelineRollup } from '../src/records/pipeline-rollup.ts';
import { loadLinkSecret } from '../src/access/links.ts';
import { QUEUE_TABLES } from '../src/notify/vacuum.ts';

const HELP = `npm run bench -- queue [options]

  --jobs <n>          doses, each with a pending notify job (default 1000000)
  --step <n>          print a line every n jobs done (default 100000)
  --modes <list>      none, periodic, maintenance, each with :N for a worker concurrency of N
                      (maintenance:400) (default none,periodic,maintenance)
  --parallel          drain the modes at the same time, each its own copy (on a shared machine
                      they then see the same load; they share the cores and the server)
  --vacuum-every <n>  periodic: VACUUM the queue's tables every n jobs done (default 50000)
  --worker-env K=V    worker settings (DOSIS_WORKER_CONCURRENCY=400, …); repeatable
  --rollup on|off     the pipeline rollup's timer beside the worker, as in dosis worker (default on)

PostgreSQL: TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test); scratch databases are created and dropped.`;

const { values: o } = parseArgs({
  options: {
    jobs: { type: 'string', default: '1000000' },
    step: { type: 'string', default: '100000' },
    modes: { type: 'string', default: 'none,periodic,maintenance' },
    parallel: { type: 'boolean', default: false },
    'vacuum-every': { type: 'string', default: '50000' },
    'worker-env': { type: 'string', multiple: true, default: [] },
    rollup: { type: 'string', default: 'on' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (o.help) {
  console.log(HELP);
  process.exit(0);
}
const JOBS = Number(o.jobs);
const STEP = Number(o.step);
const EVERY = Number(o['vacuum-every']);
const MODES = o.modes.split(',');
for (const m of MODES) if (!/^(none|periodic|maintenance)(:\d+)?$/.test(m)) throw new Error(`unknown mode ${m}`);
const workerEnv = Object.fromEntries(o['worker-env'].map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number) : NaN;
};
const mb = (b: number) => (b / 1048576).toFixed(0);

/** Dead row versions, live rows and sizes of the queue's tables, and the sizes of the jobs' indexes. */
async function snapshot(db: Db): Promise<{ dead: Record<string, number>; sizes: Record<string, number>; vacuums: number }> {
  const t = await db.query<{ relname: string; n_dead_tup: number; vacuums: number }>(
    'SELECT relname, n_dead_tup::int8, vacuum_count::int8 AS vacuums FROM pg_stat_user_tables WHERE relname = ANY($1::text[])',
    [QUEUE_TABLES],
  );
  const s = await db.query<{ name: string; bytes: number }>(
    `SELECT c.relname AS name, pg_relation_size(c.oid)::int8 AS bytes FROM pg_class c
      WHERE c.relname = ANY($1::text[]) OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'jobs'::regclass)`,
    [QUEUE_TABLES],
  );
  return {
    dead: Object.fromEntries(t.rows.map((r) => [r.relname, Number(r.n_dead_tup)])),
    sizes: Object.fromEntries(s.rows.map((r) => [r.name, Number(r.bytes)])),
    vacuums: t.rows.filter((r) => r.relname === 'jobs').reduce((a, r) => a + Number(r.vacuums), 0),
  };
}


/** Drains the copy of the filled database at `url` in `mode`. */
async function drainCopy(label: string, url: string): Promise<void> {
  const [mode, concurrency] = label.split(':');
  const env = {
    DATABASE_URL: url,
    SMS_GATEWAY: 'sink',
    DOSIS_QUEUE_VACUUM: mode === 'maintenance' ? 'true' : 'false',
    ...workerEnv,
    ...(concurrency ? { DOSIS_WORKER_CONCURRENCY: concurrency } : {}),
  };
  const say = (line: string) => console.log(`${label} | ${line}`);
  const config = parseConfig(env);
  const db = await openDb({ databaseUrl: config.databaseUrl, dataDir: '.', poolSize: config.dbPoolSize });
  // The worker's claims, timed around the query (a wait for a connection of the pool included).
  const claims: number[] = [];
  const timed: Db = new Proxy(db, {
    get(target, p, recv) {
      if (p === 'query')
        return async (sql: string, params?: unknown[]) => {
          if (sql !== CLAIM_SQL) return target.query(sql, params);
          const t0 = performance.now();
          try {
            return await target.query(sql, params);
          } finally {
            claims.push(performance.now() - t0);
          }
        };
      const v = Reflect.get(target, p, recv) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const notify = await createNotify(timed, config, await loadLinkSecret(db));
  await schedulePeriodicJobs(db, config);
  const w = notify.worker({ onError: (e, what) => console.error(`${label} | worker: ${what} failed:`, e), log: (m) => say(`(worker: ${m})`) });
  say(`${mode === 'periodic' ? `VACUUM every ${EVERY.toLocaleString('en')} jobs; ` : ''}batch ${config.worker.batchSize}, concurrency ${config.worker.concurrency}; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  say('jobs done | SMS/s | claim p50 / p99 ms (n) | dead: jobs, notifications | jobs heap MB | jobs_lane_due MB | jobs indexes MB | notifications MB | vacuums of jobs');
  const rollup = o.rollup === 'on' ? startPipelineRollup(db, { onError: (e) => console.error('rollup failed:', e) }) : null;
  let vacuuming: Promise<void> = Promise.resolve();
  let vacuumedAt = 0;
  const vacuumTimes: number[] = [];
  const t0 = performance.now();
  w.start();
  let last = { at: t0, done: 0 };
  let next = STEP;
  try {
    for (;;) {
      await sleep(200);
      const done = w.counts.done;
      if (mode === 'periodic' && done - vacuumedAt >= EVERY) {
        vacuumedAt = done;
        vacuuming = vacuuming.then(async () => {
          const v0 = performance.now();
          await db.withSession(async (s) => {
            await s.exec('SET statement_timeout = 0');
            await s.exec(`VACUUM (SKIP_LOCKED) ${QUEUE_TABLES.join(', ')}`);
            await s.exec('RESET statement_timeout');
          });
          vacuumTimes.push(performance.now() - v0);
        });
      }
      if (done >= next || done >= JOBS) {
        const now = performance.now();
        const snap = await snapshot(db);
        const c = claims.splice(0);
        const indexes = Object.entries(snap.sizes).filter(([k]) => k.startsWith('jobs_')).reduce((a, [, v]) => a + v, 0);
        say(
          `${done.toLocaleString('en')} | ${((done - last.done) / ((now - last.at) / 1000)).toFixed(0)} | ${pct(c, 50).toFixed(1)} / ${pct(c, 99).toFixed(1)} (${c.length}) | ` +
            `${(snap.dead.jobs ?? 0).toLocaleString('en')}, ${(snap.dead.notifications ?? 0).toLocaleString('en')} | ${mb(snap.sizes.jobs ?? 0)} | ${mb(snap.sizes.jobs_lane_due ?? 0)} | ${mb(indexes)} | ${mb(snap.sizes.notifications ?? 0)} | ${snap.vacuums}`,
        );
        last = { at: now, done };
        next += STEP;
        if (done >= JOBS) break;
      }
      if (performance.now() - t0 > 3 * 3600_000) throw new Error('more than 3 hours');
    }
  } finally {
    await w.stop();
    await vacuuming;
    await rollup?.stop();
  }
  const secs = (performance.now() - t0) / 1000;
  say(`${w.counts.done.toLocaleString('en')} jobs in ${secs.toFixed(0)} s = ${(w.counts.done / secs).toFixed(0)} SMS/s overall; outcomes ${JSON.stringify(w.counts)}`);
  if (vacuumTimes.length) say(`${vacuumTimes.length} VACUUMs by the benchmark, ${pct(vacuumTimes, 50).toFixed(0)} ms p50, ${Math.max(...vacuumTimes).toFixed(0)} ms max`);
  const plan = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN (COSTS OFF) ${CLAIM_SQL.replace(/\$1/g, "'x'").replace(/\$2/g, '100').replace(/\$3/g, "'certificate'").replace(/\$4/g, '60000').replace(/\$5/g, 'NULL')}`);
  say(`the claim's plan at the end: ${plan.rows.map((r) => r['QUERY PLAN'].trim()).join(' / ')}`);
  say(`load average after: ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  await db.close();
}

const template: ScratchDatabase = await createScratchDatabase('dosis_bench_queue');
const copies: ScratchDatabase[] = [];
// Stopped by a signal (a long run cut short): its databases go with it.
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    console.error(`queue: ${signal}, dropping the scratch databases`);
    void Promise.allSettled([...copies, template].map((d) => d.drop())).then(() => process.exit(130));
  });
try {
  {
    // No statement timeout: the fill's statements are large (the pipeline's statement triggers run with each).
    const db = postgresDb({ connectionString: template.url, max: 2, statementTimeoutMs: 0 });
    try {
      await migrate(db);
      // As the machine's server: no autovacuum (set per table too, for servers that have it on).
      for (const t of QUEUE_TABLES) await db.query(`ALTER TABLE ${t} SET (autovacuum_enabled = false)`);
      const t0 = performance.now();
      const at = Date.now();
      const CHUNK = 50_000;
      for (let i = 0; i < JOBS; i += CHUNK) {
        const n = Math.min(CHUNK, JOBS - i);
        // Doses of the last 4 minutes: every notify job pending (fillPipeline writes SMS only for doses older than 5 minutes).
        await fillPipeline(db, { doses: n, from: new Date(at - 240_000 + (i / JOBS) * 240_000), to: new Date(at - 240_000 + ((i + n) / JOBS) * 240_000), prefix: 'PKMQ', facilities: 200, districts: 10, offset: i + 1 });
        await db.query(
          `INSERT INTO people (id, id_type, id_value, name, birth_date, sex, phone, phone_status, region_code)
           SELECT md5('p' || i)::uuid, 'nik', lpad(i::text, 16, '3'), 'Budi Santoso ' || i, date '1980-01-01' + (i % 9000), 'M',
                  '+62812' || lpad(i::text, 8, '0'), 'ok', '310001'
             FROM generate_series($1::int, $1::int + $2::int - 1) AS i`,
          [i + 1, n],
        );
        if (i === 0) await db.exec('ANALYZE'); // the triggers' joins of the next chunks planned with statistics
      }
      await db.exec('ANALYZE');
      const pending = await db.query<{ n: number }>("SELECT count(*)::int8 AS n FROM jobs WHERE status = 'pending' AND kind = 'notify'");
      console.log(`queue: ${JOBS.toLocaleString('en')} doses with a pending notify job each (${Number(pending.rows[0]?.n).toLocaleString('en')} pending) written and analyzed in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    } finally {
      await db.close();
    }
  }
  // The copies one after the other (a template may not be copied twice at once), the drains as asked.
  try {
    for (const m of MODES) copies.push(await createScratchDatabase(`dosis_bench_queue_${m.replace(':', '_')}`, undefined, template.name));
    if (o.parallel) await Promise.all(MODES.map((m, i) => drainCopy(m, copies[i]!.url)));
    else for (const [i, m] of MODES.entries()) await drainCopy(m, copies[i]!.url);
  } finally {
    for (const c of copies) await c.drop();
  }
} finally {
  await template.drop();
}
