/**
 * Opens the database the configuration names: PostgreSQL when DATABASE_URL is
 * set, otherwise embedded PGlite in the data directory, guarded by a lock file
 * (PGlite does not lock its directory; two processes on one directory would
 * corrupt it).
 */
import { mkdirSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { fuzzystrmatch } from '@electric-sql/pglite/contrib/fuzzystrmatch';
import { type Db, pgliteDb, pgliteParsers, postgresDb } from './client.ts';

export class DataDirLockedError extends Error {
  override name = 'DataDirLockedError';
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the data directory's lock or throws DataDirLockedError naming the holder. */
export function lockDataDir(dir: string): () => void {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'dosis.lock');
  for (let i = 0; i < 2; i++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && alive(holder)) {
        throw new DataDirLockedError(
          `The data directory ${resolve(dir)} is in use by another Dosis process (pid ${holder}). ` +
            'PGlite allows one process per directory: stop that process, or set DOSIS_DATA_DIR to another directory, ' +
            'or use PostgreSQL (DATABASE_URL) to run several processes.',
        );
      }
      rmSync(path, { force: true }); // stale: its process is gone
    }
  }
  throw new DataDirLockedError(`Could not lock ${resolve(dir)}`);
}

export const pgliteExtensions = { pg_trgm, fuzzystrmatch };

/** Creates PGlite with the parsers and extensions Dosis relies on. */
export async function createPglite(dataDir?: string, loadDataDir?: Blob): Promise<PGlite> {
  return PGlite.create({
    ...(dataDir ? { dataDir } : {}),
    ...(loadDataDir ? { loadDataDir } : {}),
    parsers: pgliteParsers,
    extensions: pgliteExtensions,
  });
}

export interface OpenOptions {
  databaseUrl: string | undefined;
  dataDir: string;
  poolSize?: number;
}

/** Opens PostgreSQL or the locked embedded PGlite. */
export async function openDb(opts: OpenOptions): Promise<Db> {
  if (opts.databaseUrl) return postgresDb({ connectionString: opts.databaseUrl, max: opts.poolSize ?? 16 });
  const unlock = lockDataDir(opts.dataDir);
  try {
    const lite = await createPglite(resolve(opts.dataDir, 'pglite'));
    const db = pgliteDb(lite);
    return {
      ...db,
      async close() {
        await db.close();
        unlock();
      },
    };
  } catch (e) {
    unlock();
    throw e;
  }
}
