/**
 * Fills Node's compile cache (NODE_COMPILE_CACHE, which scripts/test.ts sets)
 * with the modules the test processes load: every server module and test
 * helper, and the packages they import. scripts/test.ts runs it once, when the
 * cache is empty (a fresh clone), beside the making of the PGlite templates.
 *
 * Why: each test file and each `dosis` it starts is a process of its own that
 * loads about a thousand modules; from the cache, each skips stripping the
 * TypeScript and compiling the JavaScript again (about 0.3 s of CPU). A process
 * writes what it compiled to the cache only when it exits, so on a fresh clone
 * the first few dozen processes, which start before any has ended, all
 * compiled everything themselves: a fresh clone's run took 20 s longer than the
 * next run in the same folder (measured: 415 against 396 s).
 *
 * Importing runs each module's top level, so entry points are left out (the
 * CLI, which runs a command, and the worker-thread scripts, which expect their
 * parent). Test helpers may import node:test, which then prints an empty report:
 * the runner does not show this process's output. A module that fails to load
 * is named and skipped: the tests themselves will say what is wrong with it.
 */
import { globSync } from 'node:fs';
import { flushCompileCache } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const LEFT_OUT = [/^src\/cli\/main\.ts$/, /-worker\.ts$/];
const files = globSync(['src/**/*.ts', 'test/helpers/*.ts', 'test/web/*helpers.ts'])
  .filter((f) => !f.endsWith('.d.ts') && !LEFT_OUT.some((re) => re.test(f)))
  .sort();
const failed: string[] = [];
for (const f of files) {
  try {
    await import(pathToFileURL(resolve(f)).href);
  } catch (e) {
    failed.push(`${f}: ${e instanceof Error ? e.message : String(e)}`);
  }
}
flushCompileCache();
process.stderr.write(`compile cache: ${files.length - failed.length} of ${files.length} modules loaded${failed.length > 0 ? `; not loaded: ${failed.join('; ')}` : ''}\n`);
// Test helpers leave handles open (a PostgreSQL probe, timers): the cache is written, so end here.
process.exit(0);
