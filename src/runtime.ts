/**
 * Starting Dosis: open the database, migrate, make sure an administrator and
 * a signing key exist, and build the app. Shared by `dosis serve`, the
 * benchmarks and the crash test so they run exactly what production runs.
 */
import type { Config } from './config.ts';
import type { Db } from './db/client.ts';
import { openDb } from './db/open.ts';
import { migrate } from './db/migrate.ts';
import { ensureAdminToken, TokenAuthenticator } from './access/tokens.ts';
import { loadLinkSecret } from './access/links.ts';
import { ensureSigningKey, Issuer } from './certificates/issuer.ts';
import { buildApp } from './http/app.ts';
import type { App, AppDeps } from './http/deps.ts';
import { Metrics } from './http/metrics.ts';

export interface Runtime {
  db: Db;
  app: App;
  deps: AppDeps;
  /** A freshly generated first administrator token, to print once; null otherwise. */
  firstAdminToken: string | null;
  close(): Promise<void>;
}

/** Prepares a database for use: migrations, first admin token, signing key. */
export async function prepare(db: Db, config: Pick<Config, 'adminToken' | 'certificateValidityDays'>): Promise<{ firstAdminToken: string | null }> {
  await migrate(db);
  const firstAdminToken = await ensureAdminToken(db, config.adminToken);
  await ensureSigningKey(db, config.certificateValidityDays);
  return { firstAdminToken };
}

/** Builds the app over an open database. */
export async function buildRuntime(db: Db, config: Config, logger: boolean | object = false): Promise<Runtime> {
  const { firstAdminToken } = await prepare(db, config);
  const issuer = await new Issuer(db, config.certificateValidityDays).ready();
  const deps: AppDeps = {
    db,
    issuer,
    auth: new TokenAuthenticator(db),
    linkSecret: await loadLinkSecret(db),
    config,
    metrics: new Metrics(),
  };
  const app = await buildApp(deps, { logger });
  return {
    db,
    app,
    deps,
    firstAdminToken,
    async close() {
      await app.close();
      await db.close();
    },
  };
}

/** Opens the configured database and builds the app. */
export async function startRuntime(config: Config, logger: boolean | object = false): Promise<Runtime> {
  const db = await openDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: config.dbPoolSize });
  try {
    return await buildRuntime(db, config, logger);
  } catch (e) {
    await db.close();
    throw e;
  }
}
