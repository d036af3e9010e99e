import { it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describeEachBackend } from '../helpers/db.ts';
import type { Db } from '../../src/db/client.ts';
import { type Handlers, type Outcome, Worker, backoffMs, claim, complete, enqueue, fail, listDead, replayDead } from '../../src/notify/outbox.ts';
import { JOB_KINDS, type JobKind } from '../../src/notify/jobs.ts';

const uuid = () => randomUUID();

/** The same handler for every job kind. */
function everyKind(h: (jobs: { id: number }[], ctx: { stopping(): boolean }) => Promise<Outcome[]>): Handlers {
  return Object.fromEntries(JOB_KINDS.map((k) => [k, h])) as unknown as Handlers;
}

/** Handlers that record what ran and answer with `outcome(job)`. */
function recording(outcome: (id: number) => Outcome = () => ({ kind: 'done' })) {
  const ran: number[] = [];
  const h = async (jobs: { id: number }[]) => jobs.map((j) => (ran.push(j.id), outcome(j.id)));
  const handlers = everyKind(h);
  return { ran, handlers };
}

async function addNotify(db: Db, n: number, kind: JobKind = 'notify'): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    const personId = uuid();
    const id = await enqueue(db, { kind: kind as 'notify', payload: { personId, certificateId: uuid() }, dedupeKey: `t:${uuid()}`, personId });
    ids.push(id as number);
  }
  return ids;
}

async function status(db: Db, id: number) {
  const r = await db.query<{ status: string; attempts: number; locked_by: string | null; due_in_ms: number; last_error: string | null }>(
    `SELECT status, attempts, locked_by, last_error, (extract(epoch FROM run_at - now()) * 1000)::float8 AS due_in_ms FROM jobs WHERE id = $1`,
    [id],
  );
  return r.rows[0]!;
}

const opts = { batchSize: 10, concurrency: 10, leaseMs: 30_000, pollMs: 20, retryBaseMs: 1000, retryMaxMs: 60_000 };

describeEachBackend('outbox', (t) => {
  it('claims due jobs in batches, each once, and completes them', async () => {
    await t.db.query("UPDATE jobs SET status = 'done'");
    const ids = await addNotify(t.db, 25);
    const a = await claim(t.db, 'A', 10, 30_000);
    const b = await claim(t.db, 'B', 10, 30_000);
    const c = await claim(t.db, 'C', 10, 30_000);
    assert.deepEqual([a.length, b.length, c.length], [10, 10, 5]);
    const all = [...a, ...b, ...c].map((j) => j.id).sort((x, y) => x - y);
    assert.deepEqual(all, ids, 'every job claimed exactly once');
    assert.equal((await claim(t.db, 'D', 10, 30_000)).length, 0, 'locked jobs are not due');
    await complete(t.db, all);
    assert.equal((await status(t.db, ids[0]!)).status, 'done');
  });

  it('does not enqueue a second job with the same dedupe key', async () => {
    const key = `dedupe:${uuid()}`;
    const p = { personId: uuid(), certificateId: uuid() };
    assert.notEqual(await enqueue(t.db, { kind: 'notify', payload: p, dedupeKey: key }), null);
    assert.equal(await enqueue(t.db, { kind: 'notify', payload: p, dedupeKey: key }), null);
  });

  it('makes the jobs of a killed worker due again when their lock expires', async () => {
    await t.db.query("UPDATE jobs SET status = 'done'");
    const [id] = await addNotify(t.db, 1);
    // A lease of 1 s: the claim just below comes within it even on a loaded machine (300 ms did not, once).
    const dying = await claim(t.db, 'dying-worker', 10, 1000); // claims, then "is killed": never completes
    assert.deepEqual(dying.map((j) => j.id), [id]);
    assert.equal((await claim(t.db, 'other', 10, 30_000)).length, 0, 'still locked');
    const until = Date.now() + 6000;
    let again: Awaited<ReturnType<typeof claim>> = [];
    while (again.length === 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 50));
      again = await claim(t.db, 'other', 10, 30_000);
    }
    assert.deepEqual(again.map((j) => j.id), [id], 'due again after the lock expired');
    assert.equal(again[0]!.attempts, 2, 'the lost attempt counts');
    // The dead worker's late report cannot reschedule a job it no longer holds.
    assert.equal(await fail(t.db, 'dying-worker', id!, 'late', 0), 'lost');
    assert.equal((await status(t.db, id!)).locked_by, 'other');
  });

  it('backs off exponentially with jitter, then goes dead, and an operator can replay it', async () => {
    await t.db.query("UPDATE jobs SET status = 'done'");
    const [id] = await addNotify(t.db, 1);
    await t.db.query('UPDATE jobs SET max_attempts = 3 WHERE id = $1', [id]);
    const { ran, handlers } = recording(() => ({ kind: 'retry', error: 'gateway said no' }));
    const w = new Worker(t.db, handlers, opts);
    assert.equal(await w.runOnce(), 1);
    let s = await status(t.db, id!);
    assert.equal(s.status, 'pending');
    assert.equal(s.attempts, 1);
    assert.equal(s.last_error, 'gateway said no');
    assert.ok(s.due_in_ms > 400 && s.due_in_ms <= 1000, `first retry after 0.5–1 s, got ${s.due_in_ms}`);
    assert.equal(await w.runOnce(), 0, 'not due during the backoff');
    await t.db.query('UPDATE jobs SET run_at = now() WHERE id = $1', [id]);
    await w.runOnce();
    s = await status(t.db, id!);
    assert.ok(s.due_in_ms > 900 && s.due_in_ms <= 2000, `second retry after 1–2 s, got ${s.due_in_ms}`);
    await t.db.query('UPDATE jobs SET run_at = now() WHERE id = $1', [id]);
    await w.runOnce();
    s = await status(t.db, id!);
    assert.equal(s.status, 'dead');
    assert.equal(ran.length, 3);
    assert.deepEqual((await listDead(t.db, { kind: 'notify' })).map((j) => j.id), [id]);

    assert.equal(await replayDead(t.db, { ids: [id!] }), 1);
    s = await status(t.db, id!);
    assert.deepEqual([s.status, s.attempts], ['pending', 0]);
    const ok = new Worker(t.db, recording().handlers, opts);
    assert.equal(await ok.runOnce(), 1);
    assert.equal((await status(t.db, id!)).status, 'done');
  });

  it('computes backoff within [d/2, d] of base·2^(n−1), capped', () => {
    assert.equal(backoffMs(1, 1000, 60_000, () => 0), 500);
    assert.equal(backoffMs(1, 1000, 60_000, () => 1), 1000);
    assert.equal(backoffMs(4, 1000, 60_000, () => 1), 8000);
    assert.equal(backoffMs(30, 1000, 60_000, () => 1), 60_000);
    assert.equal(backoffMs(30, 1000, 60_000, () => 0), 30_000);
  });

  it('sends a job with a bad payload straight to dead', async () => {
    await t.db.query("UPDATE jobs SET status = 'done'");
    const r = await t.db.query<{ id: number }>(`INSERT INTO jobs (kind, payload) VALUES ('notify', '{"personId": "nope"}') RETURNING id`);
    const w = new Worker(t.db, recording().handlers, opts);
    await w.runOnce();
    const s = await status(t.db, r.rows[0]!.id);
    assert.equal(s.status, 'dead');
    assert.match(s.last_error ?? '', /bad payload: personId must be a uuid/);
  });

  it('puts off a job that is not due yet (its SMS route paused) without counting the attempt', async () => {
    await t.db.query("UPDATE jobs SET status = 'done'");
    const [id] = await addNotify(t.db, 1);
    const w = new Worker(t.db, everyKind(async (jobs) => jobs.map((): Outcome => ({ kind: 'later', delayMs: 60_000 }))), opts);
    assert.equal(await w.runOnce(), 1);
    const r = await t.db.query<{ status: string; attempts: number; locked_by: string | null; later: boolean }>(
      "SELECT status, attempts, locked_by, run_at > now() + interval '50 seconds' AS later FROM jobs WHERE id = $1",
      [id],
    );
    assert.deepEqual(r.rows[0], { status: 'pending', attempts: 0, locked_by: null, later: true });
    assert.equal(await w.runOnce(), 0, 'not due again before its time');
  });

  it('on stop, finishes the jobs in hand and releases those not begun', async () => {
    await t.db.query("UPDATE jobs SET status = 'done'");
    const ids = await addNotify(t.db, 6);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started = 0;
    const slow = async (jobs: { id: number }[], ctx: { stopping(): boolean }) => {
      const out: Outcome[] = [];
      for (const _ of jobs) {
        if (ctx.stopping() && started > 0) {
          out.push({ kind: 'release' });
          continue;
        }
        started++;
        await gate; // the first job is in flight when stop is called
        out.push({ kind: 'done' });
      }
      return out;
    };
    const handlers = everyKind(slow);
    const w = new Worker(t.db, handlers, { ...opts, batchSize: 6 }).start();
    const until = Date.now() + 5000;
    while (started === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    assert.equal(started, 1);
    const stopping = w.stop(5000);
    release();
    await stopping;
    const rows = await t.db.query<{ status: string; attempts: number; locked_by: string | null }>('SELECT status, attempts, locked_by FROM jobs WHERE id = ANY($1::int8[]) ORDER BY id', [ids]);
    assert.deepEqual(rows.rows[0], { status: 'done', attempts: 1, locked_by: null });
    for (const r of rows.rows.slice(1)) assert.deepEqual(r, { status: 'pending', attempts: 0, locked_by: null }, 'released, attempt not counted');
  });

  if (t.backend === 'postgres') {
    it('lets two workers drain one queue concurrently without running a job twice', async () => {
      await t.db.query("UPDATE jobs SET status = 'done'");
      const ids = await addNotify(t.db, 200);
      const a = recording();
      const b = recording();
      const wa = new Worker(t.db, a.handlers, opts);
      const wb = new Worker(t.db, b.handlers, opts);
      await Promise.all([wa.drain(), wb.drain()]);
      const seen = [...a.ran, ...b.ran].sort((x, y) => x - y);
      assert.deepEqual(seen, ids);
      assert.ok(a.ran.length > 0 && b.ran.length > 0, `both worked: ${a.ran.length} / ${b.ran.length}`);
    });
  }
});
