/**
 * Runs the test suite (after typecheck and lint, see package.json): prepares a
 * PGlite template data directory once, then runs every test file with
 * node:test, each file in its own process. Arguments narrow the files:
 * `npm test -- test/records` (typecheck and lint still run first).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync, globSync } from 'node:fs';
import { createPglite } from '../src/db/open.ts';
import { PGLITE_TEMPLATE } from '../test/helpers/db.ts';

mkdirSync('test-results', { recursive: true });
if (!existsSync(PGLITE_TEMPLATE)) {
  const started = Date.now();
  const lite = await createPglite();
  const dump = await lite.dumpDataDir('none');
  writeFileSync(PGLITE_TEMPLATE, Buffer.from(await dump.arrayBuffer()));
  await lite.close();
  console.log(`PGlite template made in ${Date.now() - started} ms`);
}

const args = process.argv.slice(2);
const files = globSync('test/**/*.test.ts')
  .filter((f) => args.length === 0 || args.some((a) => f.startsWith(a.replace(/^\.\//, ''))))
  .sort();
if (files.length === 0) {
  console.error(`No test files match ${args.join(' ')}`);
  process.exit(1);
}
const r = spawnSync(
  process.execPath,
  ['--test', '--test-concurrency=2', '--test-timeout=600000', '--test-reporter=spec', ...files],
  { stdio: 'inherit', env: { ...process.env, NODE_NO_WARNINGS: '1' } },
);
process.exit(r.status ?? 1);
