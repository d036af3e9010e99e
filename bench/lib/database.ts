/** The PostgreSQL a database benchmark works in (a schema or scratch database of its own there). */
export const BENCH_DATABASE_URL = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
