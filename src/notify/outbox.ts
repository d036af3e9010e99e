/**
 * Our outbox on `FOR UPDATE SKIP LOCKED`, the same SQL on PostgreSQL and PGlite.
 *
 * Each job is in a lane (jobs.ts `laneOf`); a worker claims due jobs of each
 * lane in batches, in a loop of the lane's own: the claim sets a lock owner
 * and a lock expiry and counts the attempt. A job that succeeds is `done`
 * (deleted some days later, retention.ts: a job written again for the same
 * thing is then stopped by its notification's unique source key); one
 * that fails goes back to `pending` with an exponential backoff with jitter,
 * and after `max_attempts` to `dead`, where an operator sees it and can replay
 * it. A worker killed at any point loses nothing: its locks expire and the
 * jobs are due again (so handlers must be idempotent; the SMS handlers are).
 *
 * Why not a library: graphile-worker processes nothing with PGlite in the same
 * process, and pg-boss needs a newer Node and polls per job (~16 jobs/s).
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Db, Queryable } from '../db/client.ts';
import { type JobKind, type JobPayloads, type Lane, JOB_KINDS, LANES, isJobKind, laneOf, parsePayload, PayloadError } from './jobs.ts';

export interface Job<K extends JobKind = JobKind> {
  id: number;
  kind: K;
  payload: JobPayloads[K];
  /** Attempts so far, this one included. */
  attempts: number;
  maxAttempts: number;
  personId: string | null;
  runAt: Date;
  dedupeKey: string | null;
}

/** What became of one job. */
export type Outcome =
  | { kind: 'done' }
  | { kind: 'retry'; error: string; delayMs?: number }
  | { kind: 'dead'; error: string }
  /** Not started (the worker is stopping): give it back without counting the attempt. */
  | { kind: 'release' }
  /** Not its time yet (its SMS route is paused): due again after `delayMs`, the attempt not counted. */
  | { kind: 'later'; delayMs: number };

export interface HandlerContext {
  /** True once the worker is stopping: start no new work, return `release` for jobs not begun. */
  stopping(): boolean;
}

/** Runs a batch of jobs of one kind; returns one outcome per job, in order. */
export type BatchHandler<K extends JobKind> = (jobs: Job<K>[], ctx: HandlerContext) => Promise<Outcome[]>;

/** One handler per job kind: the mapped type makes the set exhaustive. */
export type Handlers = { [K in JobKind]: BatchHandler<K> };

/** Builds a batch handler from a per-job function, run `concurrency` at a time; a throw is a retry. */
export function eachJob<K extends JobKind>(concurrency: number, run: (job: Job<K>) => Promise<Outcome | void>): BatchHandler<K> {
  return async (jobs, ctx) => {
    const out: Outcome[] = new Array<Outcome>(jobs.length);
    let next = 0;
    const lane = async () => {
      for (let i = next++; i < jobs.length; i = next++) {
        if (ctx.stopping()) {
          out[i] = { kind: 'release' };
          continue;
        }
        try {
          out[i] = (await run(jobs[i] as Job<K>)) ?? { kind: 'done' };
        } catch (e) {
          out[i] = { kind: 'retry', error: errorText(e) };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, jobs.length)) }, lane));
    return out;
  };
}

export function errorText(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`.slice(0, 2000);
  return String(e).slice(0, 2000);
}

export interface EnqueueOptions<K extends JobKind> {
  kind: K;
  payload: JobPayloads[K];
  /** At most one job per key while the job is kept (done jobs go after some days, retention.ts): a second enqueue with the same key does nothing. */
  dedupeKey?: string;
  runAt?: Date;
  personId?: string | null;
  maxAttempts?: number;
  /** Default: the kind's (`laneOf`); a retry of a one-time code goes in `code`. */
  lane?: Lane;
}

/** Adds a job inside the caller's transaction; returns its id, or null when the dedupe key exists. */
export async function enqueue<K extends JobKind>(tx: Queryable, o: EnqueueOptions<K>): Promise<number | null> {
  const r = await tx.query<{ id: number }>(
    `INSERT INTO jobs (kind, payload, dedupe_key, run_at, person_id, max_attempts, lane)
     VALUES ($1, $2::jsonb, $3, coalesce($4::timestamptz, now()), $5, $6, $7)
     ON CONFLICT (dedupe_key) DO NOTHING RETURNING id`,
    [o.kind, JSON.stringify(o.payload), o.dedupeKey ?? null, o.runAt ?? null, o.personId ?? null, o.maxAttempts ?? 10, o.lane ?? laneOf(o.kind)],
  );
  return r.rows[0]?.id ?? null;
}

/** The periodic jobs: each run does its work, then schedules the next at the next time slot. */
export type PeriodicKind = 'escalate_dose_requests' | 'housekeeping' | 'pipeline_rollup' | 'sms_sweep' | 'queue_vacuum';

/**
 * Enqueues the run of a periodic job at the start of the current time slot of
 * `everyMinutes` (`which: 'current'`, where a worker starts: a no-op when it
 * exists) or of the next one (`'next'`, at the end of a run). The slot is the
 * dedupe key, so two workers, or a run repeated after a kill, schedule one
 * run, not two.
 */
export async function schedulePeriodic(db: Queryable, kind: PeriodicKind, o: { now: Date; everyMinutes: number; which: 'current' | 'next' }): Promise<void> {
  const slotMs = o.everyMinutes * 60_000;
  const slot = new Date((Math.floor(o.now.getTime() / slotMs) + (o.which === 'next' ? 1 : 0)) * slotMs);
  await enqueue(db, { kind, payload: {}, dedupeKey: `${kind}:${slot.toISOString()}`, ...(o.which === 'next' ? { runAt: slot } : {}) });
}

interface JobRow extends Record<string, unknown> {
  id: number;
  kind: string;
  payload: unknown;
  attempts: number;
  max_attempts: number;
  person_id: string | null;
  run_at: Date;
  dedupe_key: string | null;
}

/**
 * The claim of one lane (exported for its plan test): the first due jobs of
 * lane $3 in run_at order, read from the head of `jobs_lane_due` (lane,
 * run_at, id) WHERE status = 'pending' — the scan passes only the jobs in
 * flight and stops at `limit`, however many wait behind and whether or not
 * the table has statistics. $5: only these kinds (NULL: all). The claimed
 * rows are updated by primary key from an array, not by a join: in the plan
 * `pg` may settle on for a statement prepared by name, LIMIT $2 is of unknown
 * value and estimated at a tenth of the table, and a join of that many rows
 * was planned as a hash join over a scan of the whole table.
 */
export const CLAIM_SQL = `WITH due AS (
       SELECT id FROM jobs
        WHERE status = 'pending' AND lane = $3 AND run_at <= now() AND (locked_until IS NULL OR locked_until < now())
          AND ($5::text[] IS NULL OR kind = ANY($5::text[]))
        ORDER BY lane, run_at, id
        LIMIT $2
        FOR UPDATE SKIP LOCKED)
     UPDATE jobs j
        SET locked_by = $1, locked_until = now() + make_interval(secs => $4::float8 / 1000),
            attempts = j.attempts + 1, updated_at = now()
      WHERE j.id = ANY (ARRAY(SELECT id FROM due))
     RETURNING j.id, j.kind, j.payload, j.attempts, j.max_attempts, j.person_id, j.run_at, j.dedupe_key`;

/**
 * Claims up to `limit` due jobs of `lane` for `workerId` under a lock of `leaseMs`.
 * Due: pending, run_at passed, and not locked (or the lock expired: its worker died).
 */
export async function claimLane(db: Queryable, workerId: string, limit: number, leaseMs: number, lane: Lane, kinds: readonly string[] | null = null): Promise<JobRow[]> {
  const r = await db.query<JobRow>(CLAIM_SQL, [workerId, limit, lane, leaseMs, kinds]);
  return r.rows.sort((a, b) => a.id - b.id);
}

/** Claims up to `limit` due jobs from the lanes in their order (`LANES`): a code and a periodic job before any certificate SMS. */
export async function claim(db: Queryable, workerId: string, limit: number, leaseMs: number, lanes: readonly Lane[] = LANES, kinds: readonly string[] | null = null): Promise<JobRow[]> {
  const out: JobRow[] = [];
  for (const lane of lanes) {
    if (out.length >= limit) break;
    out.push(...(await claimLane(db, workerId, limit - out.length, leaseMs, lane, kinds)));
  }
  return out;
}

/** Marks jobs done. */
export async function complete(db: Queryable, ids: readonly number[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query(
    `UPDATE jobs SET status = 'done', locked_by = NULL, locked_until = NULL, last_error = NULL, updated_at = now()
      WHERE id = ANY($1::int8[]) AND status = 'pending'`,
    [ids],
  );
}

/** The delay before attempt `attempts + 1`: base·2^(attempts−1), capped, with "equal jitter" (half fixed, half random). */
export function backoffMs(attempts: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, Math.min(attempts - 1, 30)));
  return Math.round(exp / 2 + random() * (exp / 2));
}

/**
 * Records a failed attempt: back to pending after `delayMs`, or `dead` when
 * the attempts are used up (or `dead` is asked for). Only the lock holder may
 * do this: a worker whose lock expired must not reschedule a job another took.
 */
export async function fail(db: Queryable, workerId: string, id: number, error: string, delayMs: number, dead = false): Promise<'pending' | 'dead' | 'lost'> {
  const r = await db.query<{ status: 'pending' | 'dead' }>(
    `UPDATE jobs
        SET status = CASE WHEN $5::boolean OR attempts >= max_attempts THEN 'dead' ELSE 'pending' END,
            run_at = now() + make_interval(secs => $4::float8 / 1000),
            locked_by = NULL, locked_until = NULL, last_error = $3, updated_at = now()
      WHERE id = $2 AND locked_by = $1 AND status = 'pending'
      RETURNING status`,
    [workerId, id, error.slice(0, 2000), delayMs, dead],
  );
  return r.rows[0]?.status ?? 'lost';
}

/** Puts a claimed job off by `delayMs` without counting the attempt (it waits for something outside it, e.g. a paused SMS route). */
export async function postpone(db: Queryable, workerId: string, id: number, delayMs: number): Promise<void> {
  await db.query(
    `UPDATE jobs SET locked_by = NULL, locked_until = NULL, attempts = greatest(attempts - 1, 0),
            run_at = now() + make_interval(secs => $3::float8 / 1000), updated_at = now()
      WHERE id = $2 AND locked_by = $1 AND status = 'pending'`,
    [workerId, id, delayMs],
  );
}

/** Gives claimed jobs back without counting the attempt (a stopping worker that did not start them). */
export async function release(db: Queryable, workerId: string, ids: readonly number[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query(
    `UPDATE jobs SET locked_by = NULL, locked_until = NULL, attempts = greatest(attempts - 1, 0), updated_at = now()
      WHERE id = ANY($2::int8[]) AND locked_by = $1 AND status = 'pending'`,
    [workerId, ids],
  );
}

export interface DeadFilter {
  ids?: readonly number[];
  kind?: string;
}

/** Dead jobs, newest first. */
export async function listDead(db: Queryable, f: DeadFilter = {}, limit = 100): Promise<{ id: number; kind: string; attempts: number; last_error: string | null; updated_at: Date; payload: unknown }[]> {
  const r = await db.query<{ id: number; kind: string; attempts: number; last_error: string | null; updated_at: Date; payload: unknown }>(
    `SELECT id, kind, attempts, last_error, updated_at, payload FROM jobs
      WHERE status = 'dead' AND ($1::int8[] IS NULL OR id = ANY($1::int8[])) AND ($2::text IS NULL OR kind = $2)
      ORDER BY updated_at DESC, id DESC LIMIT $3`,
    [f.ids ?? null, f.kind ?? null, limit],
  );
  return r.rows;
}

/** Puts dead jobs (by id and/or kind; all when the filter is empty) back to pending with fresh attempts. Returns how many. */
export async function replayDead(db: Queryable, f: DeadFilter = {}): Promise<number> {
  const r = await db.query(
    `UPDATE jobs SET status = 'pending', attempts = 0, run_at = now(), locked_by = NULL, locked_until = NULL, updated_at = now()
      WHERE status = 'dead' AND ($1::int8[] IS NULL OR id = ANY($1::int8[])) AND ($2::text IS NULL OR kind = $2)`,
    [f.ids ?? null, f.kind ?? null],
  );
  return r.rowCount;
}

/** Counts by lane, kind and status (pending split into due, scheduled and locked), with the oldest due job's wait. */
export async function jobStats(db: Queryable): Promise<{ lane: string; kind: string; state: string; n: number; oldest_due_seconds: number | null }[]> {
  const r = await db.query<{ lane: string; kind: string; state: string; n: number; oldest_due_seconds: number | null }>(
    `SELECT lane, kind, state, count(*)::int8 AS n,
            CASE WHEN state = 'due' THEN round(extract(epoch FROM now() - min(run_at)))::float8 END AS oldest_due_seconds
       FROM (SELECT lane, kind, run_at,
                    CASE WHEN status <> 'pending' THEN status
                         WHEN locked_until IS NOT NULL AND locked_until >= now() THEN 'locked'
                         WHEN run_at <= now() THEN 'due' ELSE 'scheduled' END AS state
               FROM jobs) j
      GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
  );
  return r.rows;
}

export interface WorkerOptions {
  /** Lock owner name; default host:pid:random. */
  id?: string;
  /** Jobs per claim (10–50 is the sweet spot on PostgreSQL). */
  batchSize: number;
  /** Jobs in flight at once in the certificate lane; the other lanes get theirs from it (`laneConcurrency`). */
  concurrency: number;
  /** Jobs in flight at once per lane, where the default does not fit. */
  lanes?: Partial<Record<Lane, number>>;
  /** Lock expiry: a job not finished within it may be run by another worker. */
  leaseMs: number;
  /** Idle wait between claims that found nothing. */
  pollMs: number;
  /** Backoff of failed jobs (infrastructure failures; SMS retries have their own policy). */
  retryBaseMs: number;
  retryMaxMs: number;
  /** Only these kinds (default all). */
  kinds?: readonly JobKind[];
  /** Where problems of the loop itself are told (a failing claim, say). */
  onError?: (e: unknown, what: string) => void;
}

/**
 * Jobs in flight per lane for a worker of `concurrency`: the certificate lane
 * takes it all (the bulk), codes up to 16 (a few a second at most, each
 * must go at once), the periodic jobs 5 (one per kind: each run schedules the
 * next, so no more are ever due), notices a quarter. Each lane counts only
 * its own, so 400 certificate SMS stuck on a slow gateway leave the codes'
 * room untouched.
 */
export function laneConcurrency(concurrency: number, overrides: Partial<Record<Lane, number>> = {}): Record<Lane, number> {
  return {
    code: overrides.code ?? Math.min(concurrency, 16),
    periodic: overrides.periodic ?? 5,
    certificate: overrides.certificate ?? concurrency,
    notice: overrides.notice ?? Math.max(1, Math.ceil(concurrency / 4)),
    // SATUSEHAT takes a few requests at a time per client; its own room, so a slow national server holds only these.
    sync: overrides.sync ?? Math.max(1, Math.min(8, Math.ceil(concurrency / 8))),
  };
}

/**
 * How long an idle lane waits before it looks again. Four lanes polling at
 * `pollMs` would claim four times as often as one queue did, which an idle
 * embedded PGlite (one connection, shared with the requests) feels: the
 * periodic jobs are due at their slot and reminders on their day, so a second
 * is nothing to them; a code waits at most a quarter of a second more; the
 * certificate lane, the bulk, looks every `pollMs` as the one queue did. A job
 * written in this process can wake every lane at once (`nudge`).
 */
export function idlePollMs(lane: Lane, pollMs: number): number {
  switch (lane) {
    case 'certificate':
      return pollMs;
    case 'code':
      return Math.max(pollMs, 250);
    case 'periodic':
    case 'notice':
    case 'sync':
      return Math.max(pollMs, 1000);
    default:
      return lane satisfies never;
  }
}

/**
 * A worker: claims due jobs and runs them through their kind's handler, one
 * claim loop per lane, each with its own jobs in flight.
 * `runOnce`/`drain` for tests and commands; `start`/`stop` for processes.
 */
export class Worker {
  readonly id: string;
  private readonly db: Db;
  private readonly handlers: Handlers;
  private readonly opts: WorkerOptions;
  private readonly lanes: readonly Lane[];
  private readonly kinds: readonly JobKind[] | null;
  private readonly room: Record<Lane, number>;
  private running = false;
  private stoppingFlag = false;
  private readonly batches = new Set<Promise<void>>();
  private loopsDone: Promise<void> | undefined;
  private readonly wakers = new Set<() => void>();
  /** Jobs run, by outcome kind (for progress and tests). */
  readonly counts = { done: 0, retry: 0, dead: 0, release: 0, later: 0 };

  constructor(db: Db, handlers: Handlers, opts: WorkerOptions) {
    this.db = db;
    this.handlers = handlers;
    this.opts = opts;
    this.id = opts.id ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.kinds = opts.kinds ?? null;
    const kinds = opts.kinds ?? JOB_KINDS;
    // The lanes these kinds' jobs can be in: their own, and the code lane for a code's `sms_send` retry.
    this.lanes = LANES.filter((l) => kinds.some((k) => laneOf(k) === l || (k === 'sms_send' && l === 'code')));
    this.room = laneConcurrency(opts.concurrency, opts.lanes);
  }

  private readonly ctx: HandlerContext = { stopping: () => this.stoppingFlag };

  /** Claims one batch, lanes in their order, and runs it to the end; returns the number of jobs claimed. */
  async runOnce(limit = this.opts.batchSize): Promise<number> {
    const rows = await claim(this.db, this.id, limit, this.opts.leaseMs, this.lanes, this.kinds);
    if (rows.length) await this.process(rows);
    return rows.length;
  }

  /** Runs batches until nothing is due; returns the number of jobs run. */
  async drain(maxJobs = Number.POSITIVE_INFINITY): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.runOnce();
      total += n;
      if (n === 0 || total >= maxJobs) return total;
    }
  }

  /** Starts the claim loops in the background. */
  start(): this {
    if (this.running) return this;
    this.running = true;
    this.stoppingFlag = false;
    this.loopsDone = Promise.all(this.lanes.map((l) => this.loop(l))).then(() => undefined);
    return this;
  }

  /** Wakes idle loops now (e.g. right after a job was written in this process). */
  nudge(): void {
    for (const w of [...this.wakers]) w();
  }

  /**
   * Stops claiming; waits up to `graceMs` for jobs in flight to finish. Jobs
   * not begun are released at once; whatever is still running after the grace
   * keeps its lock, which expires (the job is then due again).
   */
  async stop(graceMs = 15_000): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.stoppingFlag = true;
    this.nudge();
    await this.loopsDone;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.batches]),
      new Promise<void>((r) => {
        timer = setTimeout(r, graceMs);
      }),
    ]);
    clearTimeout(timer);
  }

  /** One lane's claim loop: claims while the lane has room, up to a batch at a time. */
  private async loop(lane: Lane): Promise<void> {
    const batches = new Set<Promise<void>>();
    let inflight = 0;
    while (this.running) {
      const room = this.room[lane] - inflight;
      if (room <= 0) {
        await Promise.race(batches);
        continue;
      }
      let rows: JobRow[];
      try {
        rows = await claimLane(this.db, this.id, Math.min(room, this.opts.batchSize), this.opts.leaseMs, lane, this.kinds);
      } catch (e) {
        this.opts.onError?.(e, `claim (${lane})`);
        await this.idle(Math.max(this.opts.pollMs, 1000));
        continue;
      }
      if (rows.length === 0) {
        await this.idle(idlePollMs(lane, this.opts.pollMs));
        continue;
      }
      inflight += rows.length;
      const p: Promise<void> = this.process(rows)
        .catch((e: unknown) => this.opts.onError?.(e, 'batch'))
        .finally(() => {
          inflight -= rows.length;
          batches.delete(p);
          this.batches.delete(p);
        });
      batches.add(p);
      this.batches.add(p);
    }
  }

  private async idle(ms: number): Promise<void> {
    let wake: (() => void) | undefined;
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      wake = done;
      this.wakers.add(done);
    });
    if (wake) this.wakers.delete(wake);
  }

  /** Validates payloads, runs each kind's handler, then records every outcome (done ones in one statement). */
  private async process(rows: JobRow[]): Promise<void> {
    const outcomes = new Map<number, Outcome>();
    const byKind = new Map<JobKind, Job[]>();
    for (const row of rows) {
      if (!isJobKind(row.kind)) {
        outcomes.set(row.id, { kind: 'dead', error: `no handler for job kind "${row.kind}"` });
        continue;
      }
      try {
        const job: Job = {
          id: row.id,
          kind: row.kind,
          payload: parsePayload(row.kind, row.payload),
          attempts: row.attempts,
          maxAttempts: row.max_attempts,
          personId: row.person_id,
          runAt: row.run_at,
          dedupeKey: row.dedupe_key,
        };
        byKind.set(row.kind, [...(byKind.get(row.kind) ?? []), job]);
      } catch (e) {
        if (!(e instanceof PayloadError)) throw e;
        outcomes.set(row.id, { kind: 'dead', error: `bad payload: ${e.message}` });
      }
    }
    await Promise.all(
      [...byKind].map(async ([kind, jobs]) => {
        let results: Outcome[];
        try {
          results = await this.run(kind, jobs);
        } catch (e) {
          results = jobs.map(() => ({ kind: 'retry', error: errorText(e) }));
        }
        jobs.forEach((j, i) => outcomes.set(j.id, results[i] ?? { kind: 'retry', error: 'handler returned no outcome' }));
      }),
    );
    await this.settle(rows, outcomes);
  }

  private run(kind: JobKind, jobs: Job[]): Promise<Outcome[]> {
    // The cast is safe: `jobs` were grouped by `kind` and their payloads parsed for it.
    const h = this.handlers[kind] as BatchHandler<JobKind>;
    return h(jobs, this.ctx);
  }

  private async settle(rows: JobRow[], outcomes: Map<number, Outcome>): Promise<void> {
    const done: number[] = [];
    const released: number[] = [];
    for (const row of rows) {
      const o = outcomes.get(row.id) ?? { kind: 'retry', error: 'no outcome' };
      this.counts[o.kind]++;
      switch (o.kind) {
        case 'done':
          done.push(row.id);
          break;
        case 'release':
          released.push(row.id);
          break;
        case 'retry':
          await fail(this.db, this.id, row.id, o.error, o.delayMs ?? backoffMs(row.attempts, this.opts.retryBaseMs, this.opts.retryMaxMs));
          break;
        case 'dead':
          await fail(this.db, this.id, row.id, o.error, 0, true);
          break;
        case 'later':
          await postpone(this.db, this.id, row.id, o.delayMs);
          break;
        default:
          o satisfies never;
      }
    }
    await complete(this.db, done);
    await release(this.db, this.id, released);
  }
}
