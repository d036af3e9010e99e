/**
 * `npm run bench -- nik`: search by NIK (`searchPeople`, as `GET
 * /api/v1/people?nik=` calls it) among 2,000,000 people on PostgreSQL, as an
 * administrator and as a facility: p50/p99 per lookup before any ANALYZE (a
 * freshly grown table) and after it, and the same lookup without the index
 * `people_id_value` (migration 032) for comparison. Target (issue 20): an
 * index probe, ≤ 1 ms each.
 */
import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { postgresDb } from '../src/db/client.ts';
import { migrate } from '../src/db/migrate.ts';
import { searchPeople } from '../src/records/search.ts';
import type { Principal } from '../src/access/tokens.ts';
import { BENCH_DATABASE_URL } from './lib/database.ts';

const { values } = parseArgs({
  options: { people: { type: 'string', default: '2000000' }, lookups: { type: 'string', default: '2000' }, help: { type: 'boolean' } },
});
if (values.help) {
  console.log('npm run bench -- nik [--people 2000000] [--lookups 2000]\n\nPostgreSQL: BENCH_DATABASE_URL or TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test); a scratch schema, dropped afterwards.');
  process.exit(0);
}
const N = Number(values.people);
const LOOKUPS = Number(values.lookups);
const URL = BENCH_DATABASE_URL;
const nikOf = (i: number) => `3171${String(i).padStart(12, '0')}`;

const schema = `bench_nik_${process.pid}`;
const admin = new pg.Client({ connectionString: URL });
admin.on('error', () => {});
await admin.connect();
await admin.query(`CREATE SCHEMA ${schema}`);
const db = postgresDb({ connectionString: URL, schema, max: 2, statementTimeoutMs: 0 });
try {
  await migrate(db);
  const t0 = Date.now();
  await db.exec(`ALTER TABLE people SET (autovacuum_enabled = false); ALTER TABLE vaccinations SET (autovacuum_enabled = false);
                 INSERT INTO facilities (code, name, region_code) VALUES ('NIK0001', 'Puskesmas', '317101')`);
  for (let i = 1; i <= N; i += 500_000) {
    const hi = Math.min(N, i + 499_999);
    await db.query(
      `INSERT INTO people (id, id_type, id_value, name, birth_date, phone_status, region_code)
       SELECT md5('p' || g)::uuid, 'nik', '3171' || lpad(g::text, 12, '0'), 'Orang ' || g, date '1950-01-01' + g % 16000, 'missing', '317101'
         FROM generate_series($1::int, $2::int) g`,
      [i, hi],
    );
    await db.query(
      `INSERT INTO vaccinations (person_id, id, dose_number, vaccine, date, facility_code, status, source)
       SELECT md5('p' || g)::uuid, md5('v' || g)::uuid, 1, 'CORONAVAC', date '2021-07-01', 'NIK0001', 'recorded', 'import' FROM generate_series($1::int, $2::int) g`,
      [i, hi],
    );
  }
  console.log(`${N.toLocaleString('en')} people (each with a dose) in ${((Date.now() - t0) / 1000).toFixed(0)} s; ${LOOKUPS} lookups of random NIKs each`);

  const who: Record<string, Principal> = {
    admin: { id: 'b', role: 'admin', facilityCode: null, regionCode: null, label: 'b' },
    facility: { id: 'b', role: 'facility', facilityCode: 'NIK0001', regionCode: null, label: 'b' },
  };
  const measure = async (label: string, lookups = LOOKUPS) => {
    for (const [role, p] of Object.entries(who)) {
      const ms: number[] = [];
      for (let i = 0; i < lookups; i++) {
        const t = performance.now();
        const found = await searchPeople(db, p, { nik: nikOf(1 + randomInt(N)) });
        ms.push(performance.now() - t);
        if (found.length !== 1) throw new Error(`expected one person, found ${found.length}`);
      }
      ms.sort((a, b) => a - b);
      const q = (f: number) => (ms[Math.min(ms.length - 1, Math.floor(f * ms.length))] ?? 0).toFixed(2);
      console.log(`${label.padEnd(36)} ${role.padEnd(9)} p50 ${q(0.5).padStart(8)} ms  p99 ${q(0.99).padStart(8)} ms  (round trip included)`);
    }
  };
  await measure('index, no statistics yet');
  await db.exec('ANALYZE people, vaccinations');
  await measure('index, analysed');
  await db.exec('DROP INDEX people_id_value');
  await measure('without the index (before 032)', 20);
} finally {
  await db.close();
  await admin.query(`DROP SCHEMA ${schema} CASCADE`);
  await admin.end();
}
