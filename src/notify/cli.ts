/**
 * `dosis worker`, `dosis sms tail|stats`, `dosis jobs dead|replay`: the
 * notify commands of the CLI (src/cli/main.ts dispatches here).
 */
import { existsSync, readFileSync, statSync, openSync, readSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Config } from '../config.ts';
import type { Db } from '../db/client.ts';
import { openDb, DataDirLockedError } from '../db/open.ts';
import { migrate } from '../db/migrate.ts';
import { loadLinkSecret } from '../access/links.ts';
import { createNotify, schedulePeriodicJobs } from './service.ts';
import { listDead, replayDead, jobStats } from './outbox.ts';
import { listSink, smsStats } from './queries.ts';
import { startPipelineRollup } from '../records/pipeline-rollup.ts';

export const NOTIFY_HELP: Record<string, string> = {
  worker: `dosis worker — run the outbox worker (SMS sending, delivery-report timeouts, retries, reminders)

Runs until SIGTERM/SIGINT, then finishes the jobs in hand (up to 15 s) and
gives back those not begun. Run any number, on any machines sharing the
PostgreSQL database (with PGlite, the worker runs inside "dosis serve").
Options:
  --concurrency N   jobs in flight at once (DOSIS_WORKER_CONCURRENCY, default 400)
  --batch N         jobs per claim (DOSIS_WORKER_BATCH, default 100)`,
  sms: `dosis sms tail [-n N] [-f]   print the last N (default 10) messages of the local sink; -f follows
dosis sms stats              notifications by status, timed-out attempts, retries waiting, open cases, routes
dosis sms check              asks each configured gateway route whether it answers (sends nothing); exit 1 if not

With the embedded database while "dosis serve" runs, tail reads DOSIS_DATA_DIR/sms-sink.log.`,
  jobs: `dosis jobs stats                       outbox jobs by lane, kind and state, with the oldest due job's wait
dosis jobs dead [--kind K]             list dead jobs (failed max_attempts times)
dosis jobs replay [--kind K] [ID…]     put dead jobs (these ids, this kind, or all) back to pending`,
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function positiveInt(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${name} must be a positive integer, got "${v}"`);
  return n;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

/** Runs a notify command; returns the exit code, or -1 when it keeps running (worker). */
export async function notifyCommand(command: 'worker' | 'sms' | 'jobs', args: string[], config: Config): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      follow: { type: 'boolean', short: 'f' },
      lines: { type: 'string', short: 'n' },
      kind: { type: 'string' },
      concurrency: { type: 'string' },
      batch: { type: 'string' },
    },
    allowPositionals: true,
  });
  switch (command) {
    case 'worker':
      return worker(config, positiveInt(values.concurrency, '--concurrency'), positiveInt(values.batch, '--batch'));
    case 'sms': {
      const sub = positionals[0];
      if (sub === 'tail') return tail(config, positiveInt(values.lines, '-n') ?? 10, values.follow ?? false);
      if (sub === 'stats') return withDb(config, async (db) => print(await smsStats(db)));
      if (sub === 'check') {
        let bad = 0;
        await withDb(config, async (db) => {
          const notify = await createNotify(db, config, await loadLinkSecret(db));
          for (const c of await notify.health.check()) {
            console.log(`${c.route}: ${c.problem === null ? 'answers' : `DOES NOT ANSWER (${c.problem})`}`);
            if (c.problem !== null) bad++;
          }
          await notify.health.flush();
        });
        return bad ? 1 : 0;
      }
      throw new UsageError(NOTIFY_HELP.sms);
    }
    case 'jobs': {
      const sub = positionals[0];
      const kind = values.kind;
      if (sub === 'stats') return withDb(config, async (db) => print(await jobStats(db)));
      if (sub === 'dead') return withDb(config, async (db) => print(await listDead(db, kind ? { kind } : {})));
      if (sub === 'replay') {
        const ids = positionals.slice(1).map((x) => positiveInt(x, 'job id') as number);
        return withDb(config, async (db) => {
          const n = await replayDead(db, { ...(ids.length ? { ids } : {}), ...(kind ? { kind } : {}) });
          console.log(`Replayed ${n} dead job${n === 1 ? '' : 's'}.`);
        });
      }
      throw new UsageError(NOTIFY_HELP.jobs);
    }
    default:
      return command satisfies never;
  }
}

function print(x: unknown): void {
  console.log(JSON.stringify(x, null, 2));
}

async function withDb(config: Config, fn: (db: Db) => Promise<void>): Promise<number> {
  const db = await openDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: 2 });
  try {
    await migrate(db);
    await fn(db);
    return 0;
  } finally {
    await db.close();
  }
}

async function worker(config: Config, concurrency?: number, batch?: number): Promise<number> {
  const db = await openDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: config.dbPoolSize });
  await migrate(db);
  const notify = await createNotify(db, config, await loadLinkSecret(db));
  const w = notify.worker({
    ...(concurrency ? { concurrency } : {}),
    ...(batch ? { batchSize: batch } : {}),
    onError: (e, what) => console.error(`dosis worker: ${what} failed:`, e),
    log: (m) => console.log(`dosis worker: ${m}`),
  });
  // The periodic jobs run in the outbox too: make sure the chain has a link (a no-op when it has).
  await schedulePeriodicJobs(db, config);
  // First contact with the gateway: say at once when it does not answer (SMS then wait for it, their attempts not spent).
  for (const c of await notify.health.check()) {
    if (c.problem !== null) console.error(`dosis worker: SMS route ${c.route} does not answer (${c.problem}): its SMS wait until it does`);
  }
  w.start();
  // The pipeline view's counts, every few seconds, beside the outbox (records/pipeline-rollup.ts).
  const rollup = startPipelineRollup(db, { onError: (e) => console.error('dosis worker: pipeline rollup failed:', e) });
  const route = config.smsGateway === 'kannel' ? `Kannel ${config.kannel?.url ?? ''}${config.kannelFallback ? ' (+ fallback)' : ''}` : 'local sink';
  console.log(`dosis worker ${w.id} started (SMS: ${route}; database: ${config.databaseUrl ? 'PostgreSQL' : 'PGlite'})`);
  let last = '';
  const progress = setInterval(() => {
    const now = JSON.stringify(w.counts);
    if (now !== last) console.log(`dosis worker: jobs ${now}`);
    last = now;
  }, 10_000);
  const stop = async (signal: string) => {
    clearInterval(progress);
    console.log(`dosis worker: ${signal}, finishing jobs in hand`);
    try {
      await w.stop();
      await rollup.stop();
      await db.close();
      console.log(`dosis worker stopped: jobs ${JSON.stringify(w.counts)}`);
      process.exit(0);
    } catch (e) {
      console.error(e);
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  return -1;
}

function line(at: Date | string, to: string, text: string): string {
  return `${typeof at === 'string' ? at : at.toISOString()}  ${to}  ${text}`;
}

async function tail(config: Config, n: number, follow: boolean): Promise<number> {
  let db: Db;
  try {
    db = await openDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: 2 });
  } catch (e) {
    // PGlite allows one process per directory: while serve holds it, read the sink's log file.
    if (e instanceof DataDirLockedError) return tailFile(join(config.dataDir, 'sms-sink.log'), n, follow);
    throw e;
  }
  try {
    await migrate(db);
    const first = await listSink(db, { limit: n });
    for (const m of first) console.log(line(m.at, m.to, m.text));
    let after = first.at(-1)?.id ?? 0;
    while (follow) {
      await sleep(50);
      for (const m of await listSink(db, { after, limit: 1000 })) {
        console.log(line(m.at, m.to, m.text));
        after = m.id;
      }
    }
    return 0;
  } finally {
    await db.close();
  }
}

async function tailFile(path: string, n: number, follow: boolean): Promise<number> {
  const show = (l: string) => {
    try {
      const m = JSON.parse(l) as { at: string; to: string; text: string };
      console.log(line(m.at, m.to, m.text));
    } catch {
      /* a line being written */
    }
  };
  let offset = 0;
  if (existsSync(path)) {
    const text = readFileSync(path, 'utf8');
    offset = Buffer.byteLength(text);
    text.split('\n').filter(Boolean).slice(-n).forEach(show);
  }
  while (follow) {
    await sleep(50);
    if (!existsSync(path)) continue;
    const size = statSync(path).size;
    if (size <= offset) continue;
    const fd = openSync(path, 'r');
    const buf = Buffer.alloc(size - offset);
    readSync(fd, buf, 0, buf.length, offset);
    closeSync(fd);
    const text = buf.toString('utf8');
    const end = text.lastIndexOf('\n') + 1; // only whole lines
    offset += Buffer.byteLength(text.slice(0, end));
    text.slice(0, end).split('\n').filter(Boolean).forEach(show);
  }
  return 0;
}
