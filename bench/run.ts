/**
 * `npm run bench -- <name> [options]` runs `bench/<name>.ts` with the same
 * Node; `npm run bench` lists the benchmarks. Benchmarks are programs that
 * print their figures; they are never part of the test run. Shared code
 * lives in `bench/lib/` and is not listed.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DIR = fileURLToPath(new URL('./', import.meta.url));
const available = readdirSync(DIR)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
  .map((f) => f.slice(0, -3))
  .sort();

const [name, ...rest] = process.argv.slice(2);
if (!name || name === '--help' || name === '-h' || !available.includes(name)) {
  if (name && name !== '--help' && name !== '-h') console.error(`No benchmark "${name}".`);
  console.error(`Usage: npm run bench -- <name> [options]\nBenchmarks: ${available.join(', ')}\n(see bench/README.md; "<name> --help" for a benchmark's options)`);
  process.exit(name === '--help' || name === '-h' ? 0 : 2);
}
const r = spawnSync(process.execPath, [`${DIR}${name}.ts`, ...rest], { stdio: 'inherit', env: { ...process.env, NODE_NO_WARNINGS: '1' } });
process.exit(r.status ?? 1);
