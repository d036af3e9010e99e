/**
 * Gateway faults (issue 16) against a real Kannel with its persistent stores
 * (`store-type = spool`, `dlr-storage = spool`, as deploy/kannel.conf) and our
 * SMPP simulator. Each scenario ends with every message in its right final
 * state and counts what people received twice (the simulator's DELIVRD
 * receipts per number beyond the first) and what the SMSC accepted twice:
 *
 * (a) the SMSC down for 20 s while doses are recorded;
 * (b) bearerbox SIGTERMed and restarted while messages and reports are in flight;
 * (c) Kannel refusing connections for longer than the whole backoff window;
 * (d) permanent and temporary SMPP errors;
 * (e) two `dosis worker` processes and `dosis serve`'s own worker on one PostgreSQL.
 *
 * In (b) a report can still be lost (smsbox leaves with bearerbox, and the
 * callbacks it had not made go with it): such an SMS ends `unknown`, never
 * resent; their number is printed and bounded by what was inside Kannel.
 *
 * Sizes are smaller than the issue's 1,000 doses to keep CI short (each
 * proves the same with fewer: every message goes through the fault): (a) 90,
 * (b) 200, (c) 60, (d) 60, (e) 300. PostgreSQL only: (e) needs processes
 * sharing one database, and the others are about Kannel, not the backend.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bearer, doseBody, facilityWithToken, person, TEST_KEYS_ENV, testRuntime } from '../helpers/app.ts';
import { SmppSimulator, type Behaviour } from '../helpers/smpp-sim.ts';
import { freePort, kannelSkip, startKannel, type KannelRig } from '../helpers/kannel.ts';
import { createScratchDatabase, spawnDosis, startServer, type Child, type DosisServer, type ScratchDatabase } from '../helpers/server.ts';
import { POSTGRES_SKIP } from '../helpers/db.ts';
import { postgresDb, type Db } from '../../src/db/client.ts';
import type { Runtime } from '../../src/runtime.ts';
import { schedulePeriodic, type Worker } from '../../src/notify/outbox.ts';
import { smsStats } from '../../src/notify/queries.ts';

const skip = kannelSkip() || POSTGRES_SKIP;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Short SMS policy for tests: 4 attempts 200/400/800 ms apart (the whole backoff window 1.4 s), report timeout 5 s. */
const SMS_ENV = {
  SMS_GATEWAY: 'kannel',
  SMS_MAX_ATTEMPTS: '4',
  SMS_RETRY_BASE_MS: '200',
  SMS_RETRY_MAX_MS: '800',
  SMS_REPORT_TIMEOUT_SECONDS: '5',
  SMS_UNKNOWN_RESEND_AFTER_SECONDS: '120',
  SMS_SWEEP_SECONDS: '1',
  SMS_SEND_TIMEOUT_MS: '3000',
  SMS_GATEWAY_PROBE_MS: '250',
  SMS_GATEWAY_PROBE_MAX_MS: '1000',
};

interface Scene {
  db: Db;
  scratch: ScratchDatabase;
  sim: SmppSimulator;
  rig: KannelRig;
  rt: Runtime;
  port: number;
  env: Record<string, string>;
  fac: { code: string; token: string };
  close(): Promise<void>;
}

/** A scratch database, the simulator, Kannel with its stores, and a runtime receiving reports (no worker of its own). */
async function scene(extra: Record<string, string> = {}): Promise<Scene> {
  const scratch = await createScratchDatabase('dosis_faults');
  const db = postgresDb({ connectionString: scratch.url, max: 12 });
  const sim = await new SmppSimulator().start();
  const rig = await startKannel({ smscs: [{ id: 'SIM', port: sim.port }] });
  const port = await freePort();
  const env = { ...SMS_ENV, PUBLIC_URL: `http://127.0.0.1:${port}`, KANNEL_URL: rig.sendsmsUrl, KANNEL_USER: rig.user, KANNEL_PASSWORD: rig.password, ...extra };
  const rt = await testRuntime(db, env);
  await rt.app.listen({ port, host: '127.0.0.1' });
  await schedulePeriodic(db, 'sms_sweep', { now: new Date(), everyMinutes: 1 / 60, which: 'current' });
  const fac = await facilityWithToken(db);
  return {
    db,
    scratch,
    sim,
    rig,
    rt,
    port,
    env,
    fac,
    async close() {
      await rt.app.close();
      await db.close();
      await rig.stop();
      await sim.stop();
      await scratch.drop().catch(() => {});
    },
  };
}

let seq = 0;
/** A fresh number told to the simulator. */
function number(sim: SmppSimulator, b: Behaviour = { kind: 'deliver' }): string {
  const local = `0815${process.pid % 100}${String(++seq).padStart(6, '0')}`;
  sim.behave(`62${local.slice(1)}`, b);
  return local;
}

async function record(s: Scene, phone: string): Promise<string> {
  const res = await s.rt.app.inject({ method: 'POST', url: '/api/v1/vaccinations', headers: bearer(s.fac.token), payload: doseBody(person({ phone })) });
  assert.equal(res.statusCode, 201, res.body);
  return res.json<{ person: { id: string } }>().person.id;
}

function worker(s: Scene): Worker {
  return s.rt.deps.notify.worker({ pollMs: 20, concurrency: 32 });
}

/**
 * Waits until every dose's SMS exists (no `notify` job left: on a loaded machine the worker may not have made the
 * last ones yet when the others are final) and none is open (final, or delivered), with a deadline.
 */
async function allFinal(s: Scene, deadlineMs = 90_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const r = await s.db.query<{ open: number; n: number; unmade: number }>(
      `SELECT count(*) FILTER (WHERE final_at IS NULL)::int8 AS open, count(*)::int8 AS n,
              (SELECT count(*) FROM jobs WHERE kind = 'notify' AND status = 'pending')::int8 AS unmade
         FROM notifications WHERE status <> 'held'`,
    );
    if (Number(r.rows[0]!.n) > 0 && Number(r.rows[0]!.open) === 0 && Number(r.rows[0]!.unmade) === 0) return;
    if (Date.now() > until) throw new Error(`${r.rows[0]!.open} notifications still open, ${r.rows[0]!.unmade} not made yet, after ${deadlineMs} ms: ${JSON.stringify(await smsStats(s.db))}\n${s.rig.logs()}`);
    await sleep(200);
  }
}

async function byStatus(db: Db): Promise<Record<string, number>> {
  const r = await db.query<{ status: string; n: number }>('SELECT status, count(*)::int8 AS n FROM notifications GROUP BY 1 ORDER BY 1');
  return Object.fromEntries(r.rows.map((x) => [x.status, Number(x.n)]));
}

/** The events of every notification sent more than once, for a failure message. */
async function retriedTimelines(db: Db): Promise<string> {
  const r = await db.query<{ line: string }>(
    `SELECT n.recipient || ': ' || string_agg(to_char(e.at, 'HH24:MI:SS.MS') || ' ' || e.type || ' ' || coalesce(e.status, '') || ' ' || coalesce(e.raw, ''), ' | ' ORDER BY e.at) AS line
       FROM notifications n JOIN notification_events e ON e.person_id = n.person_id AND e.notification_id = n.id
      WHERE n.attempt > 1 GROUP BY n.recipient`,
  );
  return r.rows.map((x) => x.line).join('\n');
}

const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

/** What the people and the SMSC got, and what Dosis knows of it. */
async function tally(s: Scene) {
  const cases = await s.db.query<{ n: number }>("SELECT count(*)::int8 AS n FROM cases WHERE kind = 'unreachable' AND status = 'open'");
  const attempts = await s.db.query<{ n: number }>('SELECT count(*)::int8 AS n FROM notifications WHERE attempt > 1');
  const dups = await s.db.query<{ n: number }>('SELECT coalesce(sum(duplicates), 0)::int8 AS n FROM sms_routes');
  return {
    status: await byStatus(s.db),
    /** Extra DELIVRD copies people received. */
    deliveredTwice: total(s.sim.deliveredTwice()),
    /** Extra submits the SMSC accepted for one number. */
    acceptedTwice: total(s.sim.duplicates()),
    unreachable: Number(cases.rows[0]!.n),
    retried: Number(attempts.rows[0]!.n),
    dosisDuplicates: Number(dups.rows[0]!.n),
  };
}

describe('SMS through gateway faults (real Kannel with persistent stores, SMPP simulator)', { skip }, () => {
  it('(a) SMSC down for 20 s while doses are recorded: "3: Queued" is accepted, nothing is sent twice', async () => {
    // A report that never comes back after the outage (seen: 2 of 90 on a loaded run) ends `unknown` after this
    // wait (24 h in production): acknowledged by the SMSC, never resent (the policy of notify/README.md). The wait
    // must outlast the outage by far: an SMS queued in Kannel at its start is `unknown` 5 s later, and one the SMSC
    // has not acknowledged by the end of the wait is resent (a CI run on a loaded machine once lost that race with
    // 15 s against the 20 s outage, and the person got it twice).
    const s = await scene({ SMS_UNKNOWN_RESEND_AFTER_SECONDS: '60' });
    const w = worker(s).start();
    try {
      const before = 30;
      const during = 30;
      const after_ = 30;
      for (let i = 0; i < before; i++) await record(s, number(s.sim));
      await s.sim.down();
      const downAt = Date.now();
      // Doses keep coming while the SMSC is away (about two a second for 20 s).
      for (let i = 0; i < during; i++) {
        await record(s, number(s.sim));
        await sleep(Math.max(0, downAt + ((i + 1) * 20_000) / during - Date.now()));
      }
      await sleep(Math.max(0, downAt + 20_000 - Date.now()));
      await s.sim.up();
      for (let i = 0; i < after_; i++) await record(s, number(s.sim));
      await allFinal(s);
      const t = await tally(s);
      const queued = await s.db.query<{ n: number }>("SELECT count(*)::int8 AS n FROM notification_events WHERE type = 'submitted' AND raw LIKE '202 3:%'");
      const timeouts = await s.db.query<{ n: number }>("SELECT count(*)::int8 AS n FROM notification_events WHERE type = 'timeout'");
      console.log(`# (a) SMSC down 20 s: ${JSON.stringify(t)}; answered "3: Queued": ${queued.rows[0]!.n}; report timeouts (unknown, not resent): ${timeouts.rows[0]!.n}`);
      assert.ok(Number(queued.rows[0]!.n) > 0, 'Kannel queued messages while the SMSC was down');
      const total = before + during + after_;
      assert.equal((t.status.delivered ?? 0) + (t.status.unknown ?? 0), total, JSON.stringify(t.status));
      const silent = await s.db.query<{ recipient: string; report_bits: number }>("SELECT recipient, report_bits FROM notifications WHERE status = 'unknown'");
      for (const l of silent.rows) {
        assert.ok((l.report_bits & 8) !== 0, 'an unknown SMS was acknowledged by the SMSC');
        assert.equal(s.sim.submitsTo(l.recipient).length, 1, 'and not resent');
      }
      assert.equal(t.retried, 0, `no message was sent a second time; the retried ones:\n${await retriedTimelines(s.db)}`);
      assert.equal(t.dosisDuplicates, 0, 'Dosis handed no message to Kannel twice');
      // Kannel itself may submit again what the SMSC took just as the link dropped, before its answer came
      // back (SMPP is at-least-once): at most its window of unanswered submits (max-pending-submits, 10 by
      // default). Seen: 0 in most runs, 2 in one.
      assert.ok(t.deliveredTwice <= 10, `${t.deliveredTwice} delivered twice by Kannel, more than its window of 10`);
      assert.equal(t.unreachable, 0);
    } finally {
      await w.stop();
      await s.close();
    }
  });

  it('(b) bearerbox SIGTERMed and restarted while messages and reports are in flight: at most the messages inside it are sent twice', async (ctx) => {
    // An SMS acknowledged by the SMSC whose report is lost ends `unknown` after this wait (24 h in production).
    const s = await scene({ SMS_MAX_PER_SECOND: '250', SMS_UNKNOWN_RESEND_AFTER_SECONDS: '15' });
    const w = worker(s);
    try {
      const n = 200;
      // Receipts come 1.5 s after the submit: reports are in flight when bearerbox goes.
      for (let i = 0; i < n; i++) await record(s, number(s.sim, { kind: 'deliver', delayMs: 1500 }));
      w.start();
      const until = Date.now() + 30_000;
      const submitted = async () => Number((await s.db.query<{ n: number }>("SELECT count(*)::int8 AS n FROM notification_events WHERE type = 'submitted'")).rows[0]!.n);
      // Killed once reports are coming back: messages, receipts and report callbacks all in flight.
      while (((await submitted()) < n / 2 || s.sim.receipts.length < 20) && Date.now() < until) await sleep(20);
      const acceptedByKannel = await submitted();
      const atSmsc = new Set(s.sim.submitted.filter((x) => x.status === 0).map((x) => x.to)).size;
      const receipts = s.sim.receipts.length;
      await s.rig.stopBox('bearerbox', 'SIGTERM');
      // In flight inside bearerbox: accepted from Dosis but not yet at the SMSC when it was told to stop.
      const inFlight = Math.max(0, acceptedByKannel - atSmsc);
      await sleep(5000); // down for 5 s: Dosis finds smsbox gone too and pauses the route
      const paused = (await smsStats(s.db)).routes.find((r) => r.route === 'primary');
      // Reports in flight inside Kannel: receipts the SMSC handed to bearerbox whose callback had not reached Dosis
      // when bearerbox and smsbox went (receipts due while Kannel was away wait at the SMSC, as a real one keeps them).
      const reported = Number((await s.db.query<{ n: number }>("SELECT count(*)::int8 AS n FROM notification_events WHERE type = 'report' AND report_bits & 1 <> 0")).rows[0]!.n);
      const reportsInFlight = s.sim.receipts.length - s.sim.heldReceiptCount - reported;
      await s.rig.startBox('bearerbox');
      await allFinal(s);
      const t = await tally(s);
      // A report can still be lost at a restart: smsbox leaves with bearerbox, and the report callbacks it had not
      // made yet go with it. Such an SMS ends `unknown`: acknowledged by the SMSC, delivered there, never resent.
      const lost = await s.db.query<{ recipient: string; report_bits: number }>("SELECT recipient, report_bits FROM notifications WHERE status = 'unknown'");
      console.log(
        `# (b) bearerbox restart: ${JSON.stringify(t)}; at the kill ${acceptedByKannel} accepted by Kannel, ${atSmsc} at the SMSC, ` +
          `${receipts} receipts sent, in flight inside bearerbox: ${inFlight} messages and ${reportsInFlight} reports; route while down: ${paused?.state}; reports lost: ${lost.rows.length}`,
      );
      if (t.retried > 0) {
        const why = await s.db.query<{ type: string; attempt: number; raw: string | null }>(
          `SELECT e.type, e.attempt, e.raw FROM notification_events e JOIN notifications n ON n.person_id = e.person_id AND n.id = e.notification_id
            WHERE n.attempt > 1 ORDER BY e.notification_id, e.id`,
        );
        console.log(`# (b) retried: ${why.rows.map((e) => `${e.attempt}:${e.type}:${(e.raw ?? '').slice(0, 80)}`).join(' | ')}`);
      }
      assert.equal((t.status.delivered ?? 0) + (t.status.unknown ?? 0), n, JSON.stringify(t.status));
      for (const l of lost.rows) {
        assert.ok((l.report_bits & 8) !== 0, 'an unknown SMS was acknowledged by the SMSC');
        assert.equal(s.sim.submitsTo(l.recipient).length, 1, 'and not resent');
      }
      // Lost reports are counted, not bounded: the count of reports inside Kannel at the kill is read while
      // smsbox may still be making callbacks, and once came out 0 with 9 lost (a clean clone, load 5). What
      // matters to the person holds above: every lost report ends `unknown`, acknowledged, never resent.
      ctx.diagnostic(`(b) reports lost: ${lost.rows.length}; counted inside Kannel at the kill: ${reportsInFlight} reports, ${inFlight} messages`);
      assert.equal(t.retried, 0, 'no message was sent again by Dosis');
      assert.equal(t.unreachable, 0);
      assert.ok(t.deliveredTwice <= inFlight, `${t.deliveredTwice} people got it twice; ${inFlight} were in flight inside bearerbox`);
    } finally {
      await w.stop();
      await s.close();
    }
  });

  it('(c) Kannel refusing connections for longer than the whole backoff window: messages wait, no attempt is spent, no one is unreachable', async () => {
    const s = await scene();
    const w = worker(s).start();
    try {
      for (let i = 0; i < 20; i++) await record(s, number(s.sim));
      // The route worked before the outage (so it has a last success to be measured from).
      const working = Date.now() + 30_000;
      while (Number((await byStatus(s.db)).delivered ?? 0) < 20 && Date.now() < working) await sleep(50);
      await s.rig.stopBox('smsbox'); // sendsms refuses connections
      const downAt = Date.now();
      for (let i = 0; i < 40; i++) await record(s, number(s.sim));
      // The backoff window is 1.4 s; the outage lasts 8 s (over five times as long).
      const until = Date.now() + 10_000;
      let stats = await smsStats(s.db);
      while (!(stats.routes.find((r) => r.route === 'primary')?.state === 'open' && stats.waitingForGateway > 0) && Date.now() < until) {
        await sleep(100);
        stats = await smsStats(s.db);
      }
      const metrics = (await s.rt.app.inject({ method: 'GET', url: '/metrics' })).body;
      await sleep(Math.max(0, downAt + 8000 - Date.now()));
      const during = await tally(s);
      await s.rig.startBox('smsbox');
      await allFinal(s);
      const t = await tally(s);
      const waits = await s.db.query<{ n: number }>("SELECT count(*)::int8 AS n FROM notification_events WHERE type = 'gateway_wait'");
      console.log(`# (c) Kannel refusing 8 s (backoff window 1.4 s): ${JSON.stringify(t)}; gateway waits: ${waits.rows[0]!.n}; while down: waiting ${stats.waitingForGateway}, unreachable ${during.unreachable}`);
      assert.equal(stats.routes.find((r) => r.route === 'primary')?.state, 'open', 'the route was paused');
      assert.ok(stats.waitingForGateway > 0, 'messages waited for the gateway');
      assert.match(metrics, /dosis_sms_route_state\{route="primary",state="open"\} 1/);
      assert.match(metrics, /dosis_sms_route_seconds_since_success\{route="primary"\} \d+/);
      assert.deepEqual(t.status, { delivered: 60 });
      assert.equal(t.retried, 0, 'no attempt was spent on the outage');
      assert.equal(t.unreachable, 0);
      assert.equal(t.deliveredTwice, 0);
      assert.equal(t.acceptedTwice, 0);
      const health = (await smsStats(s.db)).routes.find((r) => r.route === 'primary');
      assert.equal(health?.state, 'closed', 'in use again');
      assert.ok((health?.outages ?? 0) >= 1);
    } finally {
      await w.stop();
      await s.close();
    }
  });

  it('(d) permanent SMPP errors end at once; temporary ones are retried; nothing is delivered twice', async () => {
    const s = await scene();
    const w = worker(s);
    try {
      const kinds: Record<string, Behaviour> = {
        invalidAddress: { kind: 'reject' }, // 0x0B: permanent
        unknownSubscriber: { kind: 'undeliv', err: '001' }, // permanent
        barred: { kind: 'undeliv', err: '013' }, // permanent
        absentOnce: { kind: 'undeliv', err: '027', times: 1 }, // temporary, then delivered
        expiredOnce: { kind: 'expire', times: 1 }, // temporary, then delivered
        throttled: { kind: 'throttle', times: 2 }, // Kannel resends by itself: one Dosis attempt
      };
      const ids: Record<string, string[]> = {};
      const phones: Record<string, string[]> = {};
      for (const [k, b] of Object.entries(kinds)) {
        for (let i = 0; i < 10; i++) {
          const phone = number(s.sim, b);
          (phones[k] ??= []).push(`+62${phone.slice(1)}`);
          (ids[k] ??= []).push(await record(s, phone));
        }
      }
      w.start();
      await allFinal(s);
      const t = await tally(s);
      const rows = await s.db.query<{ person_id: string; status: string; attempt: number }>('SELECT person_id, status, attempt FROM notifications');
      const of = new Map(rows.rows.map((r) => [r.person_id, r]));
      const openCase = new Set((await s.db.query<{ person_id: string }>("SELECT person_id FROM cases WHERE kind = 'unreachable' AND status = 'open'")).rows.map((r) => r.person_id));
      console.log(`# (d) SMPP errors: ${JSON.stringify(t)}`);
      for (const k of ['invalidAddress', 'unknownSubscriber', 'barred']) {
        for (const [i, id] of ids[k]!.entries()) {
          assert.deepEqual([of.get(id)?.status, of.get(id)?.attempt], ['failed', 1], `${k}: failed on the first attempt, not retried`);
          assert.ok(openCase.has(id), `${k}: on the unreachable list at once`);
          assert.equal(s.sim.submitsTo(phones[k]![i]!).length, 1, `${k}: one submit`);
        }
      }
      for (const k of ['absentOnce', 'expiredOnce']) {
        for (const id of ids[k]!) {
          assert.deepEqual([of.get(id)?.status, of.get(id)?.attempt], ['delivered', 2], `${k}: retried once, delivered`);
          assert.ok(!openCase.has(id));
        }
      }
      for (const id of ids.throttled!) assert.deepEqual([of.get(id)?.status, of.get(id)?.attempt], ['delivered', 1]);
      assert.equal(t.unreachable, 30);
      assert.equal(t.deliveredTwice, 0);
      assert.equal(t.dosisDuplicates, 0);
    } finally {
      await w.stop();
      await s.close();
    }
  });

  it('(e) two dosis workers and the server\'s own worker on one PostgreSQL: nothing is sent twice', async () => {
    const s = await scene();
    const procs: Child[] = [];
    let server: DosisServer | undefined;
    try {
      const n = 300;
      for (let i = 0; i < n; i++) await record(s, number(s.sim));
      const env = { ...TEST_KEYS_ENV, ...s.env, DATABASE_URL: s.scratch.url, DOSIS_WORKER_CONCURRENCY: '32', DOSIS_WORKER_POLL_MS: '20', LOG_LEVEL: 'warn' };
      server = await startServer({ env: { ...env, DOSIS_WORKER: 'true', DOSIS_DEMO: 'false' } });
      for (let i = 0; i < 2; i++) {
        const c = spawnDosis(['worker'], { env });
        await c.waitForOutput(/started/, 30_000);
        procs.push(c);
      }
      await allFinal(s, 120_000);
      const t = await tally(s);
      const sweeps = await s.db.query<{ n: number }>("SELECT count(*)::int8 AS n FROM jobs WHERE kind = 'sms_sweep' AND status = 'done'");
      console.log(`# (e) three workers: ${JSON.stringify(t)}; sweeps run: ${sweeps.rows[0]!.n}`);
      assert.deepEqual(t.status, { delivered: n });
      assert.equal(t.acceptedTwice, 0, 'no number was sent the SMS twice');
      assert.equal(t.deliveredTwice, 0);
      assert.equal(t.retried, 0);
    } finally {
      for (const c of procs) await c.stop();
      await server?.stop();
      await s.close();
    }
  });
});
