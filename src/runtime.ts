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
import { ensureSigningKey, Issuer, openSigningSetup, type SigningSetup } from './certificates/issuer.ts';
import { buildApp } from './http/app.ts';
import type { App, AppDeps } from './http/deps.ts';
import { Metrics } from './http/metrics.ts';
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createNotify, schedulePeriodicJobs, type SinkMessage } from './notify/service.ts';
import type { Worker } from './notify/outbox.ts';
import { startPipelineRollup } from './records/pipeline-rollup.ts';

export interface Runtime {
  db: Db;
  app: App;
  deps: AppDeps;
  /** A freshly generated first administrator token, to print once; null otherwise. */
  firstAdminToken: string | null;
  /** The outbox worker running in this process (DOSIS_WORKER), if any. */
  worker: Worker | null;
  close(): Promise<void>;
}

/** Prepares a database for use: migrations, first admin token, key store, signing key. */
export async function prepare(
  db: Db,
  config: Pick<Config, 'adminToken' | 'certificateValidityDays' | 'signer' | 'cscaDir'>,
): Promise<{ firstAdminToken: string | null; signing: SigningSetup }> {
  await migrate(db);
  const firstAdminToken = await ensureAdminToken(db, config.adminToken);
  const signing = await openSigningSetup(db, config);
  try {
    await ensureSigningKey(db, signing, config.certificateValidityDays);
  } catch (e) {
    signing.store.close();
    throw e;
  }
  return { firstAdminToken, signing };
}

/** Builds the app over an open database; with `worker`, an outbox worker runs in this process too. */
export async function buildRuntime(db: Db, config: Config, logger: boolean | object = false, opts: { worker?: boolean } = {}): Promise<Runtime> {
  const { firstAdminToken, signing } = await prepare(db, config);
  const issuer = await new Issuer(db, config.certificateValidityDays, signing).ready();
  const metrics = new Metrics();
  const linkSecret = await loadLinkSecret(db);
  let onSink = (_m: SinkMessage): void => {};
  let logError = (_e: unknown): void => {};
  const notify = await createNotify(db, config, linkSecret, {
    onSinkMessage: (m) => onSink(m),
    count: (name, labels) => metrics.inc(name, labels),
    onError: (e) => logError(e),
  });
  const deps: AppDeps = { db, issuer, auth: new TokenAuthenticator(db), linkSecret, config, metrics, notify };
  const app = await buildApp(deps, { logger });
  onSink = (m) => sinkToConsole(config, app, m);
  logError = (e) => app.log.error({ err: e }, 'SMS route health not written');
  // Inside serve (the embedded default) an idle claim is cheap: poll often, so an SMS follows its dose within a second.
  if (opts.worker) {
    await schedulePeriodicJobs(db, config);
    // First contact with the SMS gateway: a route that does not answer is said at once (its SMS wait for it).
    for (const c of await notify.health.check()) if (c.problem !== null) app.log.warn(`SMS route ${c.route} does not answer (${c.problem}): its SMS wait until it does`);
  }
  const worker = opts.worker
    ? notify.worker({ pollMs: Math.min(config.worker.pollMs, 50), onError: (e, what) => app.log.error({ err: e }, `outbox worker: ${what} failed`), log: (m) => app.log.info(`outbox worker: ${m}`) }).start()
    : null;
  // The pipeline view's counts, every few seconds, beside the outbox (records/pipeline-rollup.ts).
  const rollup = opts.worker ? startPipelineRollup(db, { onError: (e) => app.log.error({ err: e }, 'pipeline rollup failed') }) : null;
  return {
    db,
    app,
    deps,
    firstAdminToken,
    worker,
    async close() {
      await rollup?.stop();
      await worker?.stop();
      await app.close();
      metrics.eventLoop.stop();
      await db.close();
      signing.store.close();
    },
  };
}

/**
 * A line on the console for each message the sink takes — without its number
 * or text (they name the person and carry the certificate link: logs must
 * not) — and (embedded PGlite) the message in DOSIS_DATA_DIR/sms-sink.log,
 * beside the database, for `dosis sms tail` while serve holds the data directory.
 */
function sinkToConsole(config: Config, app: Runtime['app'], m: SinkMessage): void {
  app.log.info({ sinkId: m.id }, 'SMS to the local sink (read it: npx dosis sms tail)');
  if (config.databaseUrl) return;
  mkdirSync(config.dataDir, { recursive: true });
  appendFileSync(join(config.dataDir, 'sms-sink.log'), JSON.stringify({ at: m.at.toISOString(), to: m.to, text: m.text }) + '\n');
}

/** Opens the configured database and builds the app. */
export async function startRuntime(config: Config, logger: boolean | object = false): Promise<Runtime> {
  const db = await openDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: config.dbPoolSize });
  try {
    return await buildRuntime(db, config, logger, { worker: config.runWorker });
  } catch (e) {
    await db.close();
    throw e;
  }
}
