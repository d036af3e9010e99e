/**
 * A second PGlite template for the test databases: the runner's template
 * (PGLITE_TEMPLATE, initdb'd, empty) with one schema already migrated,
 * MIGRATED_SCHEMA. The first PGlite test schema of a test process is that
 * schema renamed (test/helpers/db.ts), instead of the 29 migrations run again:
 * about 1 s of CPU less per test file (measured: open and migrate 2.3 s, open
 * and rename 1.3 s; the queries after cost the same).
 *
 * The file is named by a hash of the migrations and of PGLITE_TEMPLATE's
 * time, so a changed or added migration, or a new PGLITE_TEMPLATE, makes a new
 * one (and a template of other migrations is never loaded); openTestDb still runs migrate() on the renamed schema, which finds
 * every version applied. Made by scripts/test.ts after PGLITE_TEMPLATE; a test
 * file run on its own with node --test finds none and migrates as before.
 *
 * No node:test import here: scripts/test.ts uses this module.
 */
import { createHash } from 'node:crypto';
import { existsSync, globSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pgliteDb } from '../../src/db/client.ts';
import { migrate, loadMigrations } from '../../src/db/migrate.ts';
import { createPglite } from '../../src/db/open.ts';
import { PGLITE_TEMPLATE } from './services.ts';

/** The migrated schema in the template; renamed by the test that takes it. */
export const MIGRATED_SCHEMA = 'migrated_template';

const ROOT = join(import.meta.dirname, '../..');

/** The migrated template of the current migrations (relative to the project). */
export function migratedTemplatePath(): string {
  const h = createHash('sha256');
  const base = join(ROOT, PGLITE_TEMPLATE);
  h.update(existsSync(base) ? String(statSync(base).mtimeMs) : 'none');
  for (const m of loadMigrations()) h.update(`${m.version}\0${m.name}\0${m.sql}\0`);
  return `test-results/pglite-migrated-${h.digest('hex').slice(0, 16)}.tar`;
}

/**
 * Makes the migrated template of the current migrations from PGLITE_TEMPLATE, unless it is there
 * (then false); removes those of other migrations.
 */
export async function makeMigratedTemplate(): Promise<boolean> {
  const path = join(ROOT, migratedTemplatePath());
  for (const old of globSync(join(ROOT, 'test-results/pglite-migrated-*.tar'))) if (old !== path) rmSync(old, { force: true });
  if (existsSync(path)) return false;
  const lite = await createPglite(undefined, new Blob([readFileSync(join(ROOT, PGLITE_TEMPLATE))]));
  try {
    await lite.exec(`CREATE SCHEMA ${MIGRATED_SCHEMA}`);
    await migrate(pgliteDb(lite, { schema: MIGRATED_SCHEMA }));
    const dump = await lite.dumpDataDir('none');
    // Whole or not at all: test processes only look for the final name.
    writeFileSync(`${path}.tmp`, Buffer.from(await dump.arrayBuffer()));
    renameSync(`${path}.tmp`, path);
    return true;
  } finally {
    await lite.close();
  }
}
