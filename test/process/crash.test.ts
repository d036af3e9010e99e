/**
 * Crash safety (issue 2, item 11): a real `dosis serve` is SIGKILLed several
 * times while clients record doses concurrently, each request with its own
 * Idempotency-Key, and restarted each time. Afterwards:
 *  - every dose that got a 2xx is stored, with the very certificate it was
 *    answered with, which verifies, and with its notify job (the outbox row
 *    was in the same transaction);
 *  - replaying every request with its key creates nothing twice: an answered
 *    one replays 200 with the same body, an unanswered one replays 200 if it
 *    had committed before the kill or records now (201);
 *  - in the end there is exactly one vaccination, certificate and job per key.
 *
 * On PostgreSQL, and on PGlite (which never fsyncs: it survives a killed
 * process, not a power cut). SIGKILL runs no shutdown code, so this is the
 * crash of an OOM kill or a pulled container, not a graceful stop.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { hc1OfStored } from '../../src/certificates/hc1.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Agent } from 'node:http';
import { PGLITE_SKIP, POSTGRES_SKIP, type Backend } from '../helpers/db.ts';
import { seedDataDir } from '../helpers/services.ts';
import { PeopleGenerator, doseRequest } from '../helpers/people.ts';
import {
  createScratchDatabase,
  facilityToken,
  freePort,
  keepAliveAgent,
  request,
  startServer,
  type DosisServer,
  type HttpAnswer,
} from '../helpers/server.ts';
import { openDb } from '../../src/db/open.ts';
import type { Db } from '../../src/db/client.ts';
import { verifyCertificate } from '../../src/certificates/verify.ts';

const ADMIN = 'dos_crash_admin_token_0123456789abcdef';

interface Planned {
  key: string;
  body: ReturnType<typeof doseRequest>;
  /** The 2xx answer during the stream, if one came. */
  acked?: HttpAnswer;
  /** Any other answer during the stream (should not happen). */
  other?: HttpAnswer;
  /** Sent, but the connection broke before an answer (the server was killed). */
  lost?: boolean;
}

interface CrashPlan {
  backend: Backend;
  requests: number;
  clients: number;
  kills: number;
  /** Answers to wait for after a (re)start before the next kill: [min, max). */
  acksBeforeKill: [number, number];
}

/** Resolvable gate: clients that lost their connection wait here for the restarted server. */
function gate() {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

async function runCrash(t: TestContext, plan: CrashPlan): Promise<void> {
  const people = new PeopleGenerator();
  const reqs: Planned[] = people.take(plan.requests).map((p, i) => ({ key: `crash-${i}-${p.nik}`, body: doseRequest(p) }));

  // Where the server keeps its data.
  let env: Record<string, string>;
  let openCheckDb: () => Promise<Db>;
  let cleanup: () => Promise<void>;
  if (plan.backend === 'postgres') {
    const scratch = await createScratchDatabase('dosis_crash');
    env = { DATABASE_URL: scratch.url };
    openCheckDb = () => openDb({ databaseUrl: scratch.url, dataDir: '', poolSize: 4 });
    cleanup = () => scratch.drop();
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'dosis-crash-'));
    const dataDir = join(dir, 'data');
    seedDataDir(dataDir);
    env = { DOSIS_DATA_DIR: dataDir };
    openCheckDb = () => openDb({ databaseUrl: undefined, dataDir });
    cleanup = async () => rmSync(dir, { recursive: true, force: true });
  }
  env = { ...env, DOSIS_ADMIN_TOKEN: ADMIN, DOSIS_WORKER: 'false', PUBLIC_URL: 'https://dosis.test' };

  const phases: string[] = [];
  let phaseStart = Date.now();
  const phase = (name: string) => {
    phases.push(`${name} ${Date.now() - phaseStart} ms`);
    phaseStart = Date.now();
  };
  const port = await freePort();
  let server: DosisServer | undefined = await startServer({ port, env, readyTimeoutMs: 60_000 });
  let db: Db | undefined;
  try {
    phase('start');
    const token = await facilityToken(server.url, ADMIN, 'PKM-CRASH');
    const auth = { authorization: `Bearer ${token}` };
    let agent: Agent = keepAliveAgent(plan.clients);

    // --- the stream: clients record while the driver kills and restarts the server ---
    let next = 0;
    let acked = 0;
    let down: ReturnType<typeof gate> | undefined;
    let ackWaiter: (() => void) | undefined;
    let streamDone = false;
    let inFlight = 0;
    const client = async () => {
      for (;;) {
        const r = reqs[next++];
        if (!r) return;
        if (down) await down.promise;
        inFlight++;
        try {
          const a = await request(server!.url, 'POST', '/api/v1/vaccinations', r.body, { ...auth, 'idempotency-key': r.key }, { agent });
          if (a.status === 200 || a.status === 201) {
            r.acked = a;
            acked++;
            ackWaiter?.();
          } else {
            r.other = a;
          }
        } catch {
          r.lost = true;
          if (down) await down.promise;
        } finally {
          inFlight--;
        }
      }
    };
    const clients = Array.from({ length: plan.clients }, client);
    const allClients = Promise.all(clients).then(() => {
      streamDone = true;
      ackWaiter?.();
    });

    const ackedAtKill: number[] = [];
    let inFlightAtKill = 0;
    for (let k = 0; k < plan.kills; k++) {
      const [lo, hi] = plan.acksBeforeKill;
      const target = acked + lo + Math.floor(Math.random() * (hi - lo));
      // Wait (on answers, not on time) until enough doses were acknowledged since the last start.
      while (acked < target && !streamDone) await new Promise<void>((r) => (ackWaiter = r));
      ackWaiter = undefined;
      if (streamDone) break;
      down = gate();
      inFlightAtKill += inFlight;
      await server.kill();
      ackedAtKill.push(acked);
      agent.destroy();
      agent = keepAliveAgent(plan.clients);
      server = await startServer({ port, env, readyTimeoutMs: 60_000 });
      down.open();
      down = undefined;
    }
    await allClients;
    phase('stream');
    assert.equal(ackedAtKill.length, plan.kills, `the stream ended before ${plan.kills} kills (after ${ackedAtKill.length}): plan more requests`);
    const others = reqs.filter((r) => r.other);
    assert.deepEqual(others.map((r) => `${r.other!.status} ${r.other!.text}`), [], 'every answer during the stream is a 2xx (or no answer at all)');
    const answered = reqs.filter((r) => r.acked);
    const lost = reqs.filter((r) => r.lost);
    assert.equal(answered.length + lost.length, reqs.length);
    assert.ok(lost.length > 0, 'some requests were cut off by the kills (else the kills hit no request in flight)');

    // --- every acknowledged certificate verifies on the restarted server ---
    await pool(answered, plan.clients, async (r) => {
      const v = await request(server!.url, 'POST', '/api/v1/verify', { qr: r.acked!.body.certificate.qr }, {}, { agent });
      assert.equal(v.status, 200, v.text);
      assert.equal(v.body.valid, true, `acknowledged certificate of ${r.key} does not verify: ${v.text}`);
      assert.equal(v.body.payload.v[0].ci, r.acked!.body.certificate.uvci);
    });

    phase('verify over HTTP');
    // --- replay every request with its key ---
    let committedUnanswered = 0;
    let recordedOnReplay = 0;
    await pool(reqs, plan.clients, async (r) => {
      const a = await request(server!.url, 'POST', '/api/v1/vaccinations', r.body, { ...auth, 'idempotency-key': r.key }, { agent });
      if (r.acked) {
        assert.equal(a.status, 200, `replay of acknowledged ${r.key}: ${a.text}`);
        assert.deepEqual(a.body, r.acked.body, `replay of ${r.key} answers the first answer`);
      } else {
        assert.ok(a.status === 200 || a.status === 201, `replay of unanswered ${r.key}: ${a.status} ${a.text}`);
        if (a.status === 200) committedUnanswered++;
        else recordedOnReplay++;
      }
    });
    agent.destroy();
    phase('replay');
    await server.stop();
    server = undefined;
    phase('stop');

    // --- what is stored: exactly one of everything per key ---
    db = await openCheckDb();
    phase('open');
    const vacs = await db.query<{ id: string; idempotency_key: string; person_id: string }>('SELECT id, idempotency_key, person_id FROM vaccinations');
    const certs = await db.query<{ id: string; vaccination_id: string; qr: string | null; hc1: Uint8Array | null; status: string }>('SELECT id, vaccination_id, qr, hc1, status FROM certificates');
    const jobs = await db.query<{ dedupe_key: string }>("SELECT dedupe_key FROM jobs WHERE kind = 'notify'");
    const keys = await db.query<{ key: string; response: unknown }>('SELECT key, response FROM idempotency_keys');
    assert.equal(vacs.rowCount, reqs.length, 'one vaccination per distinct Idempotency-Key');
    assert.equal(new Set(vacs.rows.map((v) => v.idempotency_key)).size, reqs.length, 'no key recorded twice');
    assert.equal(new Set(vacs.rows.map((v) => v.person_id)).size, reqs.length, 'one person per NIK');
    assert.equal(certs.rowCount, reqs.length, 'one certificate per vaccination');
    assert.equal(jobs.rowCount, reqs.length, 'one notify job per certificate');
    assert.equal(keys.rows.filter((k) => k.response !== null).length, reqs.length, 'every key holds its answer');

    const vacIds = new Set(vacs.rows.map((v) => v.id));
    const certById = new Map(certs.rows.map((c) => [c.id, c]));
    const jobKeys = new Set(jobs.rows.map((j) => j.dedupe_key));
    for (const r of answered) {
      const b = r.acked!.body;
      assert.ok(vacIds.has(b.vaccination.id), `acknowledged vaccination ${b.vaccination.id} (${r.key}) is stored`);
      const c = certById.get(b.certificate.id);
      assert.ok(c, `acknowledged certificate ${b.certificate.id} (${r.key}) is stored`);
      assert.equal(c.vaccination_id, b.vaccination.id);
      assert.equal(hc1OfStored(c), b.certificate.qr, 'the stored certificate is the one answered');
      assert.equal(c.status, 'valid');
      assert.ok(jobKeys.has(`notify:${b.certificate.id}`), `notify job of ${b.certificate.id} is stored`);
    }
    // Every stored certificate, answered or not, verifies with the verifier functions.
    const now = new Date();
    for (const c of certs.rows) {
      const v = await verifyCertificate(db, hc1OfStored(c), now);
      assert.equal(v.valid, true, `stored certificate ${c.id}: ${v.reason}`);
      assert.ok(jobKeys.has(`notify:${c.id}`), `notify job of ${c.id} is stored`);
    }

    phase('check');
    t.diagnostic(phases.join(', '));
    t.diagnostic(
      `${plan.backend}: ${reqs.length} requests from ${plan.clients} clients, ${plan.kills} SIGKILLs (after ${ackedAtKill.join(', ')} answers); ` +
        `${answered.length} answered 2xx during the stream, all stored and verified; ${lost.length} cut off ` +
        `(${inFlightAtKill} in flight at the kills): ${committedUnanswered} had committed (replayed 200), ${recordedOnReplay} recorded on replay (201); ` +
        `${vacs.rowCount} vaccinations for ${reqs.length} keys`,
    );
  } finally {
    if (server) await server.kill();
    if (db) await db.close();
    await cleanup();
  }
}

/** Runs `fn` over `items` with at most `n` at once. */
async function pool<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (i < items.length) await fn(items[i++]!);
    }),
  );
}

describe('crash safety: SIGKILL while recording', () => {
  it('PostgreSQL: nothing acknowledged is lost, replays create no duplicate', { skip: POSTGRES_SKIP, timeout: 120_000 }, async (t) => {
    await runCrash(t, { backend: 'postgres', requests: 450, clients: 8, kills: 3, acksBeforeKill: [50, 110] });
  });

  it('PGlite: nothing acknowledged is lost, replays create no duplicate', { skip: PGLITE_SKIP, timeout: 120_000 }, async (t) => {
    await runCrash(t, { backend: 'pglite', requests: 180, clients: 8, kills: 2, acksBeforeKill: [30, 70] });
  });
});
