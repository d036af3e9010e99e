/**
 * The notify capability assembled from the configuration: report secret,
 * gateway routes, the notifier and its worker. `dosis serve`, `dosis worker`,
 * tests and benchmarks all build it here, so they run the same thing.
 */
import { randomBytes } from 'node:crypto';
import type { Db } from '../db/client.ts';
import type { Config } from '../config.ts';
import { KannelGateway, type Routes, SinkGateway } from './gateways.ts';
import { Notifier } from './notifier.ts';
import { RouteHealth } from './health.ts';
import { Worker, eachJob, schedulePeriodic, type PeriodicKind } from './outbox.ts';
import { runEscalationJob } from '../records/dose-requests.ts';
import { rollupPipeline } from '../records/pipeline-rollup.ts';
import { type HousekeepingCounts, housekeep } from '../access/housekeeping.ts';
import { type PruneCounts, type PruneOptions, pruneNotify } from './retention.ts';
import { type CodeCheck, checkCode, loadOtpSecret } from './codes.ts';
import { switchSync, syncHandler } from '../satusehat/sync.ts';
import { QUEUE_VACUUM_EVERY_MINUTES, vacuumQueue } from './vacuum.ts';
import { SatusehatClient } from '../satusehat/client.ts';

/** The secret that signs delivery-report URLs: SMS_REPORT_SECRET, else generated once into `settings` (every process reads the same). */
/** How often the worker deletes what is past keeping (access/housekeeping.ts). */
export const HOUSEKEEPING_EVERY_MINUTES = 60;
/** How often the worker runs the pipeline rollup as an outbox job (records/pipeline-rollup.ts); each worker also runs it every few seconds on a timer of its own (startPipelineRollup), whatever the outbox's backlog. */
export const PIPELINE_ROLLUP_EVERY_MINUTES = 5;

/**
 * Makes sure the periodic jobs run: enqueues the run of each one's current
 * slot (a no-op when it exists). Called where a worker starts (`dosis worker`,
 * `dosis serve` with its embedded worker).
 */
export async function schedulePeriodicJobs(db: Db, config: Pick<Config, 'doseRequests'> & Partial<Pick<Config, 'sms' | 'worker'>>, now = new Date()): Promise<void> {
  await schedulePeriodic(db, 'escalate_dose_requests', { now, everyMinutes: config.doseRequests.checkEveryMinutes, which: 'current' });
  await schedulePeriodic(db, 'housekeeping', { now, everyMinutes: HOUSEKEEPING_EVERY_MINUTES, which: 'current' });
  await schedulePeriodic(db, 'pipeline_rollup', { now, everyMinutes: PIPELINE_ROLLUP_EVERY_MINUTES, which: 'current' });
  if (config.sms) await schedulePeriodic(db, 'sms_sweep', { now, everyMinutes: config.sms.sweepEveryMs / 60_000, which: 'current' });
  if (config.worker?.queueVacuum) await schedulePeriodic(db, 'queue_vacuum', { now, everyMinutes: QUEUE_VACUUM_EVERY_MINUTES, which: 'current' });
}

/**
 * What the periodic `housekeeping` job does at `now`: the public side's traces
 * (access/housekeeping.ts), then the done jobs, the events of delivered SMS and
 * the sink's messages past keeping (retention.ts), in batches within a budget.
 */
export async function runHousekeeping(db: Db, now: Date, prune: PruneOptions = {}): Promise<HousekeepingCounts & PruneCounts> {
  return { ...(await housekeep(db, now)), ...(await pruneNotify(db, now, prune)) };
}

export async function loadReportSecret(db: Db, configured?: string): Promise<Buffer> {
  if (configured) return Buffer.from(configured, 'utf8');
  await db.query("INSERT INTO settings (key, value) VALUES ('sms_report_secret', $1) ON CONFLICT (key) DO NOTHING", [randomBytes(32).toString('base64')]);
  const r = await db.query<{ value: string }>("SELECT value FROM settings WHERE key = 'sms_report_secret'");
  return Buffer.from(r.rows[0]!.value, 'base64');
}

export type NotifyConfig = Pick<Config, 'publicUrl' | 'smsGateway' | 'kannel' | 'kannelFallback' | 'sms' | 'worker'> & Partial<Pick<Config, 'doseRequests' | 'satusehat'>>;

export interface SinkMessage {
  /** Its id in sms_sink. */
  id: number;
  to: string;
  text: string;
  at: Date;
}

/** The routes SMS_GATEWAY and KANNEL_* describe. */
export function buildRoutes(db: Db, config: NotifyConfig, reportSecret: Buffer, onSinkMessage?: (m: SinkMessage) => void): Routes {
  if (config.smsGateway === 'sink' || !config.kannel) {
    return { primary: new SinkGateway(db, onSinkMessage), fallbackAfter: config.sms.fallbackAfter };
  }
  const reportUrl = `${config.publicUrl}/api/v1/sms/reports`;
  const common = { reportUrl, reportSecret, timeoutMs: config.sms.sendTimeoutMs };
  return {
    primary: new KannelGateway({ ...common, route: 'primary', kannel: config.kannel }),
    fallback: config.kannelFallback ? new KannelGateway({ ...common, route: 'fallback', kannel: config.kannelFallback }) : undefined,
    fallbackAfter: config.sms.fallbackAfter,
  };
}

export interface NotifyService {
  notifier: Notifier;
  routes: Routes;
  /** The routes' circuit breakers in this process (health.ts). */
  health: RouteHealth;
  /** Checks a one-time code entered for a request (codes.ts): right once, then spent; wrong tries counted. */
  checkCode(requestId: string, code: string, purpose?: string): Promise<CodeCheck>;
  /** A worker over every job kind with the configured batch, concurrency and lease. */
  /** `now` is the clock of the periodic jobs (the dose-request escalation); tests move it instead of sleeping. */
  /** `log`: where the worker's maintenance says what it did (the queue's VACUUMs). */
  worker(overrides?: Partial<Config['worker']> & { id?: string; onError?: (e: unknown, what: string) => void; now?: () => Date; log?: (message: string) => void }): Worker;
}

export interface NotifyOptions {
  onSinkMessage?: (m: SinkMessage) => void;
  count?: (name: string, labels: Record<string, string>) => void;
  /** Where a failed write of a route's health is told. */
  onError?: (e: unknown) => void;
}

/** Builds the notify service over an open, migrated database. */
export async function createNotify(db: Db, config: NotifyConfig, linkSecret: Buffer, opts: NotifyOptions = {}): Promise<NotifyService> {
  const reportSecret = await loadReportSecret(db, config.sms.reportSecret);
  // The hand-off to SATUSEHAT: on for this database's writes while the configuration has it (satusehat/sync.ts).
  await switchSync(db, config.satusehat !== undefined);
  // One client per process: its token is shared by every job.
  const satusehat = config.satusehat ? { db, config: config.satusehat, client: new SatusehatClient(config.satusehat), publicUrl: config.publicUrl } : null;
  const otpSecret = await loadOtpSecret(db, config.sms.otpSecret);
  const routes = buildRoutes(db, config, reportSecret, opts.onSinkMessage);
  const health = new RouteHealth(
    routes,
    db,
    { failuresToOpen: config.sms.gatewayFailuresToOpen, probeBaseMs: config.sms.gatewayProbeMs, probeMaxMs: config.sms.gatewayProbeMaxMs, sendsInFlight: config.sms.sendsInFlight },
    opts.onError,
  );
  const notifier = new Notifier({
    db,
    routes,
    health,
    linkSecret,
    reportSecret,
    otpSecret,
    config: {
      publicUrl: config.publicUrl,
      language: config.sms.language,
      maxAttempts: config.sms.maxAttempts,
      retryBaseMs: config.sms.retryBaseMs,
      retryMaxMs: config.sms.retryMaxMs,
      reportTimeoutMs: config.sms.reportTimeoutMs,
      inFlightGraceMs: config.worker.leaseMs + config.sms.sendTimeoutMs,
      unknownResendAfterMs: config.sms.unknownResendAfterMs,
      permanentReceiptErrors: new Set(config.sms.permanentReceiptErrors),
      sendConcurrency: config.worker.concurrency,
      maxPerSecond: config.sms.maxPerSecond,
      phoneShareLimit: config.sms.phoneShareLimit,
    },
    ...(opts.count ? { count: opts.count } : {}),
  });
  return {
    notifier,
    routes,
    health,
    checkCode: (requestId, code, purpose) => checkCode(db, otpSecret, requestId, code, purpose),
    worker(o = {}) {
      const w = { ...config.worker, ...o };
      const doseRequests = config.doseRequests ?? { escalateAfterDays: 3, checkEveryMinutes: 60 };
      const clock = o.now ?? (() => new Date());
      /** A periodic job: its work at the worker's clock, then its next run. */
      const periodic = <K extends PeriodicKind>(kind: K, everyMinutes: number, work: (now: Date) => Promise<unknown>) =>
        eachJob<K>(1, async () => {
          const now = clock();
          await work(now);
          await schedulePeriodic(db, kind, { now, everyMinutes, which: 'next' });
        });
      const handlers = {
        ...notifier.handlers(),
        escalate_dose_requests: eachJob<'escalate_dose_requests'>(1, async () => {
          await runEscalationJob(db, { now: clock(), afterDays: doseRequests.escalateAfterDays, everyMinutes: doseRequests.checkEveryMinutes });
        }),
        housekeeping: periodic('housekeeping', HOUSEKEEPING_EVERY_MINUTES, (now) => runHousekeeping(db, now)),
        pipeline_rollup: periodic('pipeline_rollup', PIPELINE_ROLLUP_EVERY_MINUTES, (now) => rollupPipeline(db, now)),
        sms_sweep: periodic('sms_sweep', config.sms.sweepEveryMs / 60_000, () => notifier.sweep()),
        // Turned off (DOSIS_QUEUE_VACUUM=false), a run already scheduled does nothing and schedules no next one.
        queue_vacuum: w.queueVacuum
          ? periodic('queue_vacuum', QUEUE_VACUUM_EVERY_MINUTES, async () => {
              const done = await vacuumQueue(db);
              if (done.length) o.log?.(`vacuumed ${done.map((v) => `${v.table} (${v.dead} dead row versions, ${v.ms} ms)`).join(', ')}`);
            })
          : eachJob<'queue_vacuum'>(1, async () => {}),
        satusehat_sync: syncHandler(satusehat),
      };
      return new Worker(db, handlers, {
        batchSize: w.batchSize,
        concurrency: w.concurrency,
        leaseMs: w.leaseMs,
        pollMs: w.pollMs,
        retryBaseMs: w.retryBaseMs,
        retryMaxMs: w.retryMaxMs,
        ...(o.id ? { id: o.id } : {}),
        ...(o.onError ? { onError: o.onError } : {}),
      });
    },
  };
}
