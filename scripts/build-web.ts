/**
 * Builds the web pages (web/ → web/dist) with Vite, and pre-compresses the
 * assets (brotli, gzip) so the server sends them without compressing per
 * request.
 *
 *   node scripts/build-web.ts             build now (npm run build)
 *   node scripts/build-web.ts --if-stale  build only when web/dist is missing or
 *                                         older than its sources (npm start does this)
 *
 * "Stale" is decided by content: web/dist/.build.json records a hash of every
 * source file the last build read (the pages, the shared src/ modules they
 * import, the lock file); a build runs when any of them changed, or a file
 * appeared under web/. Several processes may ask at once (test files run in
 * parallel): a lock directory makes one build and the others wait for it.
 */
import { createHash } from 'node:crypto';
import { existsSync, globSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import type { Plugin } from 'vite';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const DIST = join(ROOT, 'web/dist');
const RECORD = join(DIST, '.build.json');
const LOCK = join(ROOT, 'web/.build-lock');
const LOCK_STALE_MS = 5 * 60_000;
const COMPRESSIBLE = /\.(js|css|wasm|svg|json|html|txt)$/;

interface BuildRecord {
  /** Source files the build read, relative to the project root. */
  files: string[];
  fingerprint: string;
}

/** Files whose change always calls for a build, besides those the last build read. */
function alwaysWatched(): string[] {
  const web = globSync('web/**/*', { cwd: ROOT, exclude: (p) => p === 'dist' || p.startsWith('web/dist') || p.endsWith('.build-lock') })
    .filter((f) => !f.startsWith('web/dist/') && statSync(join(ROOT, f)).isFile());
  return [...web, 'package-lock.json', 'scripts/vite-config.ts', 'scripts/build-web.ts'];
}

function fingerprint(files: string[]): string {
  const hash = createHash('sha256');
  for (const f of [...new Set(files)].sort()) {
    hash.update(f).update('\0');
    try {
      hash.update(readFileSync(join(ROOT, f)));
    } catch {
      hash.update('(missing)');
    }
    hash.update('\0');
  }
  return hash.digest('hex');
}

/** Why web/dist needs a build, or null when it is up to date. */
export function staleReason(): string | null {
  if (!existsSync(RECORD)) return 'web/dist is missing';
  let record: BuildRecord;
  try {
    record = JSON.parse(readFileSync(RECORD, 'utf8')) as BuildRecord;
  } catch {
    return 'web/dist/.build.json is unreadable';
  }
  const now = fingerprint([...record.files, ...alwaysWatched()]);
  return now === record.fingerprint ? null : 'sources changed since the last build';
}

/** Records the project files a build read. */
function collectInputs(into: Set<string>): Plugin {
  return {
    name: 'dosis-collect-inputs',
    buildEnd() {
      for (const id of this.getModuleIds()) {
        if (id.startsWith('\0')) continue;
        const path = id.split('?')[0]!;
        const rel = relative(ROOT, path);
        if (rel.startsWith('..') || rel.startsWith('node_modules') || !existsSync(path)) continue;
        into.add(rel);
      }
    },
  };
}

function precompress(): number {
  let n = 0;
  for (const f of globSync('**/*', { cwd: DIST })) {
    const path = join(DIST, f);
    if (!COMPRESSIBLE.test(f) || !statSync(path).isFile()) continue;
    const body = readFileSync(path);
    if (body.length < 1024) continue;
    writeFileSync(`${path}.br`, brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: body.length } }));
    writeFileSync(`${path}.gz`, gzipSync(body, { level: 9 }));
    n++;
  }
  return n;
}

/** Builds web/dist now. */
export async function buildWeb(log: (line: string) => void = console.log): Promise<void> {
  const started = Date.now();
  const { build } = await import('vite');
  const config = (await import('./vite-config.ts')).default;
  const inputs = new Set<string>();
  await build({ ...config, configFile: false, plugins: [...(config.plugins ?? []), collectInputs(inputs)] });
  const compressed = precompress();
  const files = [...inputs].sort();
  const record: BuildRecord = { files, fingerprint: fingerprint([...files, ...alwaysWatched()]) };
  writeFileSync(RECORD, JSON.stringify(record, null, 1));
  log(`web pages built in ${Date.now() - started} ms (${files.length} source files, ${compressed} assets pre-compressed) → web/dist`);
}

async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + LOCK_STALE_MS;
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // A build killed half-way leaves its lock behind: take it over once it is old.
      const lock = statSync(LOCK, { throwIfNoEntry: false });
      if (lock && Date.now() - lock.mtimeMs > LOCK_STALE_MS) rmSync(LOCK, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`waited too long for another web build (${LOCK})`, { cause: e });
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

/** Builds web/dist when it is missing or stale; returns whether it built. Safe to call from several processes at once. */
export async function ensureWebBuild(log: (line: string) => void = console.log): Promise<boolean> {
  if (staleReason() === null) return false;
  return withLock(async () => {
    const reason = staleReason();
    if (reason === null) return false;
    log(`Building the web pages (${reason})…`);
    await buildWeb(log);
    return true;
  });
}

if (import.meta.main) {
  const ifStale = process.argv.includes('--if-stale');
  try {
    if (ifStale) await ensureWebBuild();
    else await withLock(() => buildWeb());
  } catch (e) {
    console.error('web build failed:', e);
    process.exit(1);
  }
}
