/**
 * `npm run bench -- search`: name search among 100,000 people on PostgreSQL
 * (and PGlite with --pglite). The target (issue 5): `muhamad rizki` finds
 * `Mohammad Rizky` in under 100 ms. People are inserted directly (this
 * measures search, not recording), with name keys computed by the same
 * domain functions the application uses.
 */
import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { postgresDb, pgliteDb, type Db } from '../src/db/client.ts';
import { createPglite } from '../src/db/open.ts';
import { migrate } from '../src/db/migrate.ts';
import { nameKey, normalizeName } from '../src/domain/names.ts';
import { searchPeople } from '../src/records/search.ts';
import type { Principal } from '../src/access/tokens.ts';

const { values } = parseArgs({ options: { people: { type: 'string', default: '100000' }, pglite: { type: 'boolean', default: false }, help: { type: 'boolean' } } });
if (values.help) {
  console.log('npm run bench -- search [--people 100000] [--pglite]');
  process.exit(0);
}
const N = Number(values.people);
const URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const FIRST = ['Muhammad', 'Ahmad', 'Siti', 'Nur', 'Dewi', 'Budi', 'Agus', 'Sri', 'Rizky', 'Putri', 'Dian', 'Eko', 'Joko', 'Wahyu', 'Ayu', 'Fajar', 'Indah', 'Rina', 'Hendra', 'Yusuf', 'Abdul', 'Fitri', 'Rahmat', 'Lestari'];
const LAST = ['Santoso', 'Wijaya', 'Saputra', 'Hidayat', 'Pratama', 'Lestari', 'Kurniawan', 'Setiawan', 'Nugroho', 'Rahman', 'Siregar', 'Harahap', 'Sihombing', 'Putra', 'Rizki', 'Ramadhan', 'Firmansyah', 'Maulana', 'Susanti', 'Wulandari'];
const pick = <T>(a: T[]): T => a[randomInt(a.length)] as T;

async function open(): Promise<{ db: Db; close: () => Promise<void> }> {
  const schema = `bench_search_${process.pid}`;
  if (values.pglite) {
    const lite = await createPglite();
    await lite.exec(`CREATE SCHEMA ${schema}`);
    const db = pgliteDb(lite, { schema });
    return { db, close: () => db.close() };
  }
  const admin = new pg.Client({ connectionString: URL });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`);
  const db = postgresDb({ connectionString: URL, schema, max: 4 });
  return {
    db,
    close: async () => {
      await db.close();
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    },
  };
}

const { db, close } = await open();
await migrate(db);
const started = Date.now();
const BATCH = 5000;
for (let i = 0; i < N; i += BATCH) {
  const names: string[] = [];
  for (let j = 0; j < Math.min(BATCH, N - i); j++) names.push(i + j === 4242 ? 'Mohammad Rizky' : `${pick(FIRST)} ${pick(LAST)}${randomInt(3) === 0 ? ' ' + pick(LAST) : ''}`);
  await db.query(
    `INSERT INTO people (id, id_type, id_value, name, birth_date, sex, phone_status, region_code, name_norm, name_key)
     SELECT gen_random_uuid(), 'nik', lpad((${i} + n)::text, 16, '3'), name, date '1960-01-01' + (n % 15000)::int, 'M', 'missing', '317101', norm, key
       FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS t(name, norm, key, n)`,
    [names, names.map(normalizeName), names.map(nameKey)],
  );
}
await db.query('ANALYZE people');
console.log(`inserted ${N} people in ${((Date.now() - started) / 1000).toFixed(1)} s (${values.pglite ? 'PGlite' : 'PostgreSQL'})`);

const admin: Principal = { id: 'bench', role: 'admin', facilityCode: null, regionCode: null, label: 'bench' };
const queries = ['muhamad rizki', 'siti nurhaliza', 'dewi lestari', 'ahmad hidayat', 'mohamad rizky saputra'];
for (const q of queries) await searchPeople(db, admin, { name: q }); // warm
const times: number[] = [];
let found = false;
for (let round = 0; round < 20; round++) {
  for (const q of queries) {
    const t0 = performance.now();
    const r = await searchPeople(db, admin, { name: q, limit: 20 });
    times.push(performance.now() - t0);
    if (q === 'muhamad rizki' && r.some((p) => p.name === 'Mohammad Rizky')) found = true;
  }
}
times.sort((a, b) => a - b);
const pct = (p: number) => times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))]!.toFixed(1);
console.log(`name search over ${N} people: p50 ${pct(50)} ms, p99 ${pct(99)} ms, max ${times[times.length - 1]!.toFixed(1)} ms (${times.length} searches)`);
console.log(`"muhamad rizki" finds "Mohammad Rizky" in the top 20: ${found ? 'yes' : 'no'}  (target: < 100 ms)`);
// This generator draws from a small vocabulary, so ~1 in 700 people folds to the
// same key as "Mohammad Rizky": operators narrow by birth date, as the issue says.
const rizky = (await db.query<{ birth_date: string }>("SELECT birth_date FROM people WHERE name = 'Mohammad Rizky' LIMIT 1")).rows[0]!.birth_date;
const same = (await db.query<{ n: number }>("SELECT count(*)::int8 AS n FROM people WHERE name_key = $1", [nameKey('muhamad rizki')])).rows[0]!.n;
const wide = await searchPeople(db, admin, { name: 'muhamad rizki', limit: 100 });
const t1 = performance.now();
const narrowed = await searchPeople(db, admin, { name: 'muhamad rizki', birthDate: rizky });
const t2 = performance.now() - t1;
console.log(`${same} people share the folded key; rank of "Mohammad Rizky" without narrowing: ${wide.findIndex((p) => p.name === 'Mohammad Rizky') + 1 || '>100'}`);
console.log(`narrowed by birth date ${rizky}: ${narrowed.findIndex((p) => p.name === 'Mohammad Rizky') + 1 || 'not found'}. of ${narrowed.length}, ${t2.toFixed(1)} ms`);
await close();
