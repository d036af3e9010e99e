/**
 * `npm run bench -- stats`: what the pipeline view (`GET /api/v1/stats/pipeline`)
 * and the 24-hour series (`GET /api/v1/stats/series`) cost on PostgreSQL with
 * `--doses` doses (200,000) of history spread over 30 days, each with its
 * certificate, notify job and SMS (written by SQL, test/helpers/pipeline.ts),
 * for an administrator, one district and one facility: p50/p99 ms with the
 * history rolled up (records/pipeline-rollup.ts), and without (done_until
 * reset: every call reads all of history), and what the rollup itself took.
 * The answers with and without the rollup are compared: they must be equal.
 */
import { isDeepStrictEqual, parseArgs } from 'node:util';
import pg from 'pg';
import { postgresDb } from '../src/db/client.ts';
import { migrate } from '../src/db/migrate.ts';
import { pipelineSeries, pipelineStats } from '../src/records/stats.ts';
import { rollupPipeline } from '../src/records/pipeline-rollup.ts';
import { districtOf, fillPipeline } from '../test/helpers/pipeline.ts';
import type { Principal } from '../src/access/tokens.ts';
import { BENCH_DATABASE_URL } from './lib/database.ts';

const { values } = parseArgs({
  options: {
    doses: { type: 'string', default: '200000' },
    facilities: { type: 'string', default: '500' },
    districts: { type: 'string', default: '50' },
    rounds: { type: 'string', default: '20' },
    'rounds-without': { type: 'string', default: '5' },
    backlog: { type: 'string', default: '0' },
    help: { type: 'boolean' },
  },
});
if (values.help) {
  console.log('npm run bench -- stats [--doses 200000] [--facilities 500] [--districts 50] [--rounds 20] [--rounds-without 5] [--backlog 0]');
  process.exit(0);
}
const N = Number(values.doses);
const FACILITIES = Number(values.facilities);
const DISTRICTS = Number(values.districts);
const URL = BENCH_DATABASE_URL;
const schema = `bench_stats_${process.pid}`;

const admin = new pg.Client({ connectionString: URL });
await admin.connect();
await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`);
const db = postgresDb({ connectionString: URL, schema, max: 2, statementTimeoutMs: 600_000 });
try {
  await migrate(db);
  const now = new Date();
  let t0 = performance.now();
  const codes = await fillPipeline(db, { doses: N, from: new Date(now.getTime() - 30 * 86_400_000), to: now, prefix: 'PKM', facilities: FACILITIES, districts: DISTRICTS });
  const tables = 'facilities, vaccinations, certificates, jobs, notifications, cases, pipeline_hours, pipeline_totals, pipeline_rollup';
  await db.query(`VACUUM ANALYZE ${tables}`);
  console.log(`${N} doses over 30 days at ${FACILITIES} facilities in ${DISTRICTS} districts, with certificates, jobs and SMS: written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const backlog = Number(values.backlog);
  if (backlog > 0) {
    // A record day's SMS queue: `backlog` more notify jobs pending, created over the last hour, each for a dose of
    // the history (so a district's lookup of its facility finds one), in statements of 100,000.
    t0 = performance.now();
    for (let lo = 0; lo < backlog; lo += 100_000) {
      await db.query(
        `INSERT INTO jobs (kind, payload, dedupe_key, status, run_at, attempts, person_id, created_at, updated_at, lane)
         SELECT 'notify', json_build_object('personId', md5('p' || k), 'certificateId', md5('c' || k)::uuid)::jsonb, 'bench-backlog:' || g, 'pending',
                t, 0, md5('p' || k)::uuid, t, t, 'certificate'
           FROM generate_series($1::int, $2::int) g, LATERAL (SELECT g % $3::int AS k, now() - interval '1 hour' + (g::float8 / $4::int) * interval '1 hour' AS t) x`,
        [lo, Math.min(backlog, lo + 100_000) - 1, N, backlog],
      );
    }
    await db.query('VACUUM ANALYZE jobs');
    console.log(`${backlog} notify jobs pending (the SMS queue of a record day): written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }

  const who: [string, Principal][] = [
    ['admin', { id: 'bench', role: 'admin', facilityCode: null, regionCode: null, label: 'bench' }],
    ['district', { id: 'bench', role: 'district', facilityCode: null, regionCode: districtOf(1, DISTRICTS), label: 'bench' }],
    ['facility', { id: 'bench', role: 'facility', facilityCode: codes[0]!, regionCode: null, label: 'bench' }],
  ];
  const calls: [string, (p: Principal) => Promise<unknown>][] = [
    ['pipeline view', (p) => pipelineStats(db, p)],
    ['series 24 h', (p) => pipelineSeries(db, p, {}, now)],
  ];
  /** p50/p99 ms of each call and scope, and the answers (of the last round). */
  const measure = async (rounds: number) => {
    const figures = new Map<string, { p50: number; p99: number }>();
    const answers = new Map<string, unknown>();
    for (const [call, run] of calls) {
      for (const [scope, p] of who) {
        answers.set(`${call} ${scope}`, await run(p)); // warm
        const times: number[] = [];
        for (let i = 0; i < rounds; i++) {
          const t = performance.now();
          answers.set(`${call} ${scope}`, await run(p));
          times.push(performance.now() - t);
        }
        times.sort((a, b) => a - b);
        const pct = (q: number) => times[Math.min(times.length - 1, Math.floor((q / 100) * times.length))]!;
        figures.set(`${call} ${scope}`, { p50: pct(50), p99: pct(99) });
      }
    }
    return { figures, answers };
  };
  /** The parts of an answer that do not move with the clock (the last minute and hour do, between the two measurements). */
  const moving = new Set(['generatedAt', 'oldestWaitingSeconds', 'lastMinute', 'lastHour', 'recordedLastHour']);
  const steady = (a: unknown): unknown => JSON.parse(JSON.stringify(a, (k, v: unknown) => (moving.has(k) ? undefined : v)));

  const without = await measure(Number(values['rounds-without']));
  t0 = performance.now();
  const first = await rollupPipeline(db, now);
  const firstMs = performance.now() - t0;
  await db.query('ANALYZE pipeline_hours, pipeline_totals');
  t0 = performance.now();
  const again = await rollupPipeline(db, now);
  const againMs = performance.now() - t0;
  const withRollup = await measure(Number(values.rounds));

  console.log(`rollup: the first run (all history) ${firstMs.toFixed(0)} ms, ${first.hours} facility-hours from ${first.events} events; a run with nothing new ${againMs.toFixed(1)} ms (${again.hours} hours)`);
  console.log('');
  console.log('ms                          without rollup        with rollup');
  console.log('                            p50       p99         p50       p99');
  for (const [key, w] of without.figures) {
    const r = withRollup.figures.get(key)!;
    console.log(`${key.padEnd(28)}${w.p50.toFixed(1).padStart(7)}${w.p99.toFixed(1).padStart(10)}   ${r.p50.toFixed(1).padStart(9)}${r.p99.toFixed(1).padStart(10)}`);
  }
  const differ = [...without.answers].filter(([k, a]) => !isDeepStrictEqual(steady(a), steady(withRollup.answers.get(k))));
  console.log('');
  console.log(differ.length === 0 ? 'answers with and without the rollup: identical' : `answers differ with the rollup: ${differ.map(([k]) => k).join(', ')}`);
  if (differ.length) process.exitCode = 1;
} finally {
  await db.close();
  await admin.query(`DROP SCHEMA ${schema} CASCADE`);
  await admin.end();
}
