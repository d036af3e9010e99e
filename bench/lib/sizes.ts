/**
 * Bytes per dose, as `npm run bench -- storage` and `-- day` read them: the
 * size of every Dosis table (heap, TOAST, indexes) with its live rows, a table
 * of stages side by side with the projection for N doses, and each table's
 * parts; and housekeeping run as the worker runs it, at a later clock.
 */
import type { Db } from '../../src/db/client.ts';
import { rollupPipeline } from '../../src/records/pipeline-rollup.ts';
import { runHousekeeping } from '../../src/notify/service.ts';

export type Sizes = Map<string, { bytes: number; rows: number }>;

/** Total size (heap, TOAST, indexes) and live rows of every table of the schema. */
export async function sizes(db: Db): Promise<Sizes> {
  const r = await db.query<{ name: string; bytes: number }>(
    `SELECT c.relname AS name, pg_total_relation_size(c.oid)::int8 AS bytes FROM pg_class c
      WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace AND c.relname <> 'schema_migrations'`,
  );
  const out: Sizes = new Map();
  for (const row of r.rows) {
    if (!/^[a-z_0-9]+$/.test(row.name)) continue;
    const n = await db.query<{ n: number }>(`SELECT count(*)::int8 AS n FROM ${row.name}`);
    out.set(row.name, { bytes: Number(row.bytes), rows: Number(n.rows[0]?.n ?? 0) });
  }
  return out;
}

const kb = (b: number) => (b / 1024).toFixed(2);
const mb = (b: number) => (b / 1024 / 1024).toFixed(1);

/** Stages side by side (MB, rows, bytes per dose per table), then each stage's KB per dose and its projection to `project` doses. */
export function printStages(stages: [string, Sizes][], doses: number, project: number): void {
  const names = [...new Set(stages.flatMap(([, s]) => [...s.keys()]))]
    .filter((n) => stages.some(([, s]) => (s.get(n)?.bytes ?? 0) > 8192 * 3))
    .sort((a, b) => (stages.at(-1)?.[1].get(b)?.bytes ?? 0) - (stages.at(-1)?.[1].get(a)?.bytes ?? 0));
  console.log(`\n${'table'.padEnd(26)}${stages.map(([l]) => `${l.padStart(14)} rows  B/dose`).join('')}`);
  for (const n of names) {
    console.log(
      `${n.padEnd(26)}${stages
        .map(([, s]) => {
          const x = s.get(n) ?? { bytes: 0, rows: 0 };
          return `${mb(x.bytes).padStart(11)} MB ${String(x.rows).padStart(7)} ${String(Math.round(x.bytes / doses)).padStart(7)}`;
        })
        .join('')}`,
    );
  }
  const totals = stages.map(([l, s]) => [l, [...s.values()].reduce((a, x) => a + x.bytes, 0)] as const);
  console.log(`${'all tables'.padEnd(26)}${totals.map(([, t]) => `${mb(t).padStart(11)} MB ${''.padStart(7)} ${String(Math.round(t / doses)).padStart(7)}`).join('')}`);
  console.log('');
  for (const [l, t] of totals) {
    console.log(`${l.padEnd(10)} ${kb(t / doses)} KB per dose → ${((t / doses) * project / 1024 ** 4).toFixed(2)} TiB for ${project.toLocaleString('en')} doses`);
  }
}

/** The sizes of every part (heap with TOAST, each index) of Dosis's tables. */
export async function parts(db: Db): Promise<{ tbl: string; part: string; bytes: number }[]> {
  const r = await db.query<{ tbl: string; part: string; bytes: number }>(
    `SELECT c.relname AS tbl, 'table' AS part, (pg_table_size(c.oid))::int8 AS bytes FROM pg_class c
      WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace
     UNION ALL
     SELECT t.relname, i.relname, pg_relation_size(i.oid)::int8 FROM pg_index x
       JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
      WHERE t.relnamespace = 'public'::regnamespace`,
  );
  return r.rows;
}

/** The tables of more than 50 bytes a dose, their heap (with TOAST) and each index, per dose. */
export function printParts(label: string, s: Sizes, ps: { tbl: string; part: string; bytes: number }[], doses: number): void {
  console.log(`\n${label}, by part (bytes per dose):`);
  for (const [name, x] of [...s].sort((a, b) => b[1].bytes - a[1].bytes)) {
    if (x.bytes / doses < 50) continue;
    const own = ps.filter((p) => p.tbl === name).sort((a, b) => Number(b.bytes) - Number(a.bytes));
    console.log(`  ${name.padEnd(22)} ${String(Math.round(x.bytes / doses)).padStart(5)}  ${own.map((p) => `${p.part} ${Math.round(Number(p.bytes) / doses)}`).join(', ')}`);
  }
}

/** Runs maintenance statements (VACUUM, VACUUM FULL) on one session without the connection's statement timeout: on millions of rows they take minutes. */
export async function maintenance(db: Db, ...sql: string[]): Promise<void> {
  await db.withSession(async (s) => {
    await s.exec('SET statement_timeout = 0');
    for (const x of sql) await s.exec(x);
  });
}

/**
 * The rollup, then housekeeping, as the worker runs them, at `later` — its
 * runs repeated until nothing is left (each run is budgeted, as the periodic
 * job's is: the hourly runs of a day do the same) — then a plain VACUUM
 * (twice, as autovacuum comes by: index pages the first emptied are reused
 * only after a second).
 */
export async function housekeep(db: Db, later: Date, label: string): Promise<void> {
  await rollupPipeline(db, later);
  const t1 = performance.now();
  const total: Record<string, number> = {};
  let runs = 0;
  for (let more = true; more; runs++) {
    const done = await runHousekeeping(db, later);
    for (const [k, v] of Object.entries(done)) if (typeof v === 'number') total[k] = (total[k] ?? 0) + v;
    more = done.more;
  }
  console.log(`${label}: housekeeping ${((performance.now() - t1) / 1000).toFixed(1)} s in ${runs} run(s), ${JSON.stringify(total)}`);
  await maintenance(db, 'VACUUM ANALYZE', 'VACUUM');
}
