/**
 * Plans that do not depend on luck (issue 20, item 4): the hot statements on
 * people keep an index plan on tables of a million rows, before any ANALYZE
 * (a fresh or freshly grown database: the planner knows the size from the
 * pages, nothing about the values) and after it, as the generic plan of a
 * prepared statement (what `pg` runs from the sixth call on) and as a custom
 * one:
 *  - the people of identifier keys, as the record path and the import read
 *    them (readPeople: PEOPLE_BY_KEY, READ_PEOPLE_AND_ANSWERS), for one key and
 *    for an import batch of 500;
 *  - search by NIK (searchPeople), for an administrator, a district and a facility;
 *  - the person of a timeline with the caller's scope and the people merged
 *    into them (TIMELINE_PERSON), for an administrator, a district and a facility.
 * The statistics of the second check are those a bulk import takes once it has
 * grown the tables a lot (analyzeGrown, import/run.ts).
 * PostgreSQL only: PGlite runs the same planner, and a million rows there
 * would take minutes. (Declared for PostgreSQL alone, not as an empty PGlite
 * suite: that one loaded PGlite and migrated a schema for nothing.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { POSTGRES_SKIP, openTestDb, type TestDb } from '../helpers/db.ts';
import type { Queryable, Row } from '../../src/db/client.ts';
import { PEOPLE_BY_KEY, READ_PEOPLE_AND_ANSWERS } from '../../src/records/people.ts';
import { searchPeople } from '../../src/records/search.ts';
import { TIMELINE_PERSON } from '../../src/records/timeline.ts';
import { personScopeSql } from '../../src/access/scope.ts';
import { analyzeGrown } from '../../src/records/import/run.ts';
import type { Principal } from '../../src/access/tokens.ts';

const PEOPLE = 1_000_000;
const nikOf = (i: number) => `3171${String(i).padStart(12, '0')}`;

/** SQL literal of a test value (the values are the test's own). */
const literal = (v: unknown): string => (v === null || v === undefined ? 'NULL' : `'${(typeof v === 'string' ? v : JSON.stringify(v)).replace(/'/g, "''")}'`);

describe('plans on a million people [postgres]', { skip: POSTGRES_SKIP }, () => {
  let t: TestDb;
  /** The plan of a statement as prepared, generic or custom, in one transaction (the statement is deallocated after). */
  const plan = async (sql: string, params: readonly unknown[], mode: 'force_generic_plan' | 'force_custom_plan'): Promise<string> =>
    t.db.withTransaction(async (tx) => {
      await tx.exec(`SET LOCAL plan_cache_mode = ${mode}; PREPARE plan_probe AS ${sql}`);
      try {
        const args = params.length ? `(${params.map(literal).join(', ')})` : '';
        const r = await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN EXECUTE plan_probe${args}`);
        return r.rows.map((x) => x['QUERY PLAN']).join('\n');
      } finally {
        await tx.exec('DEALLOCATE plan_probe');
      }
    });

  /** The statement searchPeople runs for a query, caught instead of run. */
  const searchStatement = async (who: Principal, nik: string) => {
    let caught: { sql: string; params: readonly unknown[] } | undefined;
    const capture: Queryable = {
      async query<R extends Row>(sql: string, params?: readonly unknown[]) {
        caught = { sql, params: params ?? [] };
        return { rows: [] as R[], rowCount: 0 };
      },
      async exec() {},
    };
    await searchPeople(capture, who, { nik });
    return caught!;
  };

  const admin: Principal = { id: 'plan', role: 'admin', facilityCode: null, regionCode: null, label: 'plan' };
  const scopes: Principal[] = [admin, { ...admin, role: 'district', regionCode: '3171' }, { ...admin, role: 'facility', facilityCode: 'PLAN0001' }];

  const check = async (when: string) => {
    const keys = Array.from({ length: 500 }, (_, i) => `nik:${nikOf(1 + i * 1999)}`);
    const statements: [string, string, unknown[], RegExp][] = [
      ['people by one key', PEOPLE_BY_KEY, [JSON.stringify(keys.slice(0, 1))], /person_keys_pkey/],
      ['people by 500 keys', PEOPLE_BY_KEY, [JSON.stringify(keys)], /person_keys_pkey/],
      ['people and answers (import batch)', READ_PEOPLE_AND_ANSWERS, [JSON.stringify(keys), JSON.stringify([{ scope: 'x', key: 'k' }])], /person_keys_pkey/],
    ];
    for (const who of scopes) {
      const scope = personScopeSql(who, 2);
      statements.push([`the person of a timeline, with the people merged into them (${who.role})`, TIMELINE_PERSON(scope.sql), ['00000000-0000-4000-8000-000000000001', ...scope.params], /people_merged_into/]);
      const s = await searchStatement(who, nikOf(777_777));
      statements.push([`search by NIK (${who.role})`, s.sql, [...s.params], /people_id_value/]);
    }
    for (const [name, sql, params, index] of statements) {
      for (const mode of ['force_generic_plan', 'force_custom_plan'] as const) {
        const p = await plan(sql, params, mode);
        assert.equal(/Seq Scan on (people|person_keys|vaccinations)\b/.exec(p), null, `${when}, ${mode}: ${name} reads a whole table:\n${p}`);
        assert.match(p, index, `${when}, ${mode}: ${name} probes ${index}:\n${p}`);
      }
    }
  };

  after(async () => {
    await t?.close();
  });

  before(async (ctx) => {
    t = await openTestDb('postgres');
    ctx.diagnostic('filling a million people');
    // No autovacuum on them meanwhile: the first check is of tables nobody analysed.
    await t.db.exec(`ALTER TABLE people SET (autovacuum_enabled = false);
                     ALTER TABLE person_keys SET (autovacuum_enabled = false);
                     ALTER TABLE vaccinations SET (autovacuum_enabled = false);
                     INSERT INTO facilities (code, name, region_code) SELECT 'PLAN' || lpad(g::text, 4, '0'), 'Puskesmas', '3171' || lpad(g::text, 2, '0') FROM generate_series(1, 10) g`);
    // The secondary indexes are built after the rows are in, as the PostgreSQL manual advises for a bulk load
    // ("Populating a Database"): a sort each instead of a million random inserts into each, a third of the
    // fill's CPU. The schema ends as migrated. The planner still has no statistics of the values (checked
    // below); it knows the tables' sizes, now as counted by CREATE INDEX (as a vacuum would) rather than
    // estimated from their pages.
    const secondary = await t.db.query<{ name: string; def: string }>(
      `SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def FROM pg_index i
        WHERE i.indrelid IN ('people'::regclass, 'person_keys'::regclass, 'vaccinations'::regclass)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)`,
    );
    await t.db.exec(secondary.rows.map((x) => `DROP INDEX ${x.name};`).join('\n'));
    // In slices, each without the statement timeout (a shared, loaded machine).
    for (let lo = 1; lo <= PEOPLE; lo += 250_000) {
      const slice = [lo, Math.min(PEOPLE, lo + 249_999)];
      await t.db.withTransaction(async (tx) => {
        await tx.exec('SET LOCAL statement_timeout = 0');
        await tx.query(
          `INSERT INTO people (id, id_type, id_value, name, birth_date, phone_status, region_code)
           SELECT md5('p' || g)::uuid, 'nik', '3171' || lpad(g::text, 12, '0'), 'Orang ' || g, date '1950-01-01' + g % 16000, 'missing', '317101'
             FROM generate_series($1::int, $2::int) g`,
          slice,
        );
        await tx.query(`INSERT INTO person_keys (key, person_id) SELECT 'nik:3171' || lpad(g::text, 12, '0'), md5('p' || g)::uuid FROM generate_series($1::int, $2::int) g`, slice);
        await tx.query(
          `INSERT INTO vaccinations (person_id, id, dose_number, vaccine, date, facility_code, status, source)
           SELECT md5('p' || g)::uuid, md5('v' || g)::uuid, 1, 'CORONAVAC', date '2021-07-01', 'PLAN' || lpad((1 + g % 10)::text, 4, '0'), 'recorded', 'import'
             FROM generate_series($1::int, $2::int) g`,
          slice,
        );
      });
    }
    for (const x of secondary.rows) {
      await t.db.withTransaction(async (tx) => {
        await tx.exec('SET LOCAL statement_timeout = 0');
        await tx.exec(x.def);
      });
    }
  });

  it('keep their index plans before any ANALYZE and after it', async () => {
    const stats = await t.db.query<{ n: number }>(
      "SELECT count(*)::int8 AS n FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname IN ('people', 'person_keys', 'vaccinations') AND (last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL)",
    );
    assert.equal(stats.rows[0]?.n, 0, 'no statistics yet');
    await check('without statistics');
    // What an import does once it has grown the tables a lot (import/run.ts); the counts it reads
    // reach the statistics a moment after the inserts committed.
    const deadline = Date.now() + 30_000;
    let analysed: string[] = [];
    while (analysed.length < 3 && Date.now() < deadline) {
      analysed = [...new Set([...analysed, ...(await analyzeGrown(t.db))])];
      if (analysed.length < 3) await new Promise((r) => setTimeout(r, 200));
    }
    assert.deepEqual(analysed.sort(), ['people', 'person_keys', 'vaccinations']);
    assert.deepEqual(await analyzeGrown(t.db), [], 'nothing grown since');
    await check('with statistics');
  });
});
