/**
 * `npm run bench -- notify`: SMS through a real Kannel, end to end, next to
 * Kannel's own ceiling measured in the same run on the same machine.
 *
 * 1. Kannel alone: N sendsms requests → bearerbox → our SMPP simulator →
 *    delivery report to a bare HTTP receiver; messages per second from the
 *    first request to the last "delivered" report. No Dosis. Fed as fast as
 *    it takes (64 in flight) and at steady rates; the best is the ceiling
 *    (a flood is not Kannel's best: its reports fall behind).
 * 2. Dosis, backlog: N doses recorded (worker off), then `dosis worker` drains
 *    them: certificate SMS delivered per second, from the first notification
 *    saved to the last "delivered" report stored (reports go to `dosis serve`).
 * 3. Dosis, 200 doses/s: doses posted open-loop at a fixed rate through
 *    `POST /api/v1/vaccinations` while the worker runs; p50/p99 from the
 *    dose's recorded_at to gateway acceptance (sendsms answered 0: Accepted)
 *    and to the delivery report stored.
 *
 * Set-up: PostgreSQL (a scratch database), `dosis serve` (DOSIS_WORKER=false,
 * LOG_LEVEL=warn) and `dosis worker` as subprocesses, Kannel from Debian, the
 * simulator and the HTTP clients in this process. Everything shares the
 * machine's cores; the CPU each process used is printed.
 */
import { parseArgs } from 'node:util';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { SmppSimulator } from '../test/helpers/smpp-sim.ts';
import { kannelSkip, startKannel, type KannelRig } from '../test/helpers/kannel.ts';
import { createScratchDatabase, facilityToken, freePort, keepAliveAgent, request, spawnDosis, startServer, type Child, type DosisServer } from '../test/helpers/server.ts';
import { PeopleGenerator, doseRequest } from '../test/helpers/people.ts';
import { postgresDb, type Db } from '../src/db/client.ts';

const HELP = `npm run bench -- notify [options]

  --count <n>        messages in the throughput runs (default 3000)
  --rate <n>         doses per second in the latency run (default 200)
  --seconds <n>      length of the latency run (default 15)
  --concurrency <n>  the worker's jobs in flight (default 128)
  --feeds <list>     Kannel-alone feed rates, 0 = flood (default 0,300,450,600); the best is the ceiling
  --max-per-second <n>  the worker's SMS_MAX_PER_SECOND (default 0: no cap)
  --sends-in-flight <n>  the worker's SMS_SENDS_IN_FLIGHT, sendsms requests in flight per route (default: Dosis's, 16)
  --stores on|off    Kannel's persistent stores (store-type and dlr-storage = spool, as deploy/kannel.conf;
                     default on); off = its in-memory defaults, to measure what the stores cost
  --async-commit     diagnostic: synchronous_commit=off on the scratch database (how much is WAL flushing?)

Needs Kannel (apt-get install -y kannel kannel-extras) and PostgreSQL
(TEST_DATABASE_URL or postgres://postgres@127.0.0.1:5432/test; a scratch database is used).`;

const { values: o } = parseArgs({
  options: {
    count: { type: 'string', default: '3000' },
    rate: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '15' },
    concurrency: { type: 'string', default: '128' },
    'async-commit': { type: 'boolean', default: false },
    'max-per-second': { type: 'string', default: '0' },
    'sends-in-flight': { type: 'string' },
    stores: { type: 'string', default: 'on' },
    feeds: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (o.help) {
  console.log(HELP);
  process.exit(0);
}
const COUNT = Number(o.count);
const RATE = Number(o.rate);
const SECONDS = Number(o.seconds);
/** Kannel-alone feeds: 0 = as fast as it takes, else messages per second. */
const FEEDS = (o.feeds ?? '0,300,450,600').split(',').map(Number);
const ADMIN = 'dos_bench_admin_token_0123456789abcdef';
const skip = kannelSkip();
if (skip) {
  console.error(skip);
  process.exit(2);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number) : NaN;
};
const ticks = (pid: number): number => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return Number(f[11]) + Number(f[12]); // utime + stime, in clock ticks (100/s)
  } catch {
    return 0;
  }
};
function cpuMeter(named: Record<string, number[]>) {
  const start = Object.fromEntries(Object.entries(named).map(([k, pids]) => [k, pids.reduce((a, p) => a + ticks(p), 0)]));
  const self0 = process.cpuUsage();
  return (seconds: number) => {
    const parts = Object.entries(named).map(([k, pids]) => `${k} ${((pids.reduce((a, p) => a + ticks(p), 0) - (start[k] ?? 0)) / 100 / seconds * 100).toFixed(0)}%`);
    const self = process.cpuUsage(self0);
    parts.push(`bench+simulator ${(((self.user + self.system) / 1e6 / seconds) * 100).toFixed(0)}%`);
    return `CPU (of one core): ${parts.join(', ')}`;
  };
}

const sim = await new SmppSimulator().start();
let rig: KannelRig | undefined;
let serve: DosisServer | undefined;
let worker: Child | undefined;
let scratch: Awaited<ReturnType<typeof createScratchDatabase>> | undefined;
let db: Db | undefined;

try {
  rig = await startKannel({ smscs: [{ id: 'SIM', port: sim.port }], logLevel: 3, stores: o.stores !== 'off' });
  console.log(`Load average before: ${loadavg().map((x) => x.toFixed(1)).join(' ')} (2 cores; other processes on the machine skew every figure)`);
  console.log(`Kannel on ${rig.sendsmsUrl} (persistent stores ${o.stores !== 'off' ? 'on: store-type and dlr-storage = spool' : 'OFF: dlr-storage = internal, no store'}); SMPP simulator on ${sim.port}; ${COUNT} messages per throughput run\n`);

  // ---- 1. Kannel alone ---------------------------------------------------------------------
  // Flooding Kannel is not its best: fed at a steady rate it delivers more. The ceiling is the
  // best of a flood and of paced feeds, so that Dosis is compared with Kannel at its best.
  console.log('1. Kannel alone (sendsms → SMPP simulator → delivery report, no Dosis); ceiling = the best feed');
  let ceiling = 0;
  for (const rate of FEEDS) {
    let delivered = 0;
    let lastAt = 0;
    let done: () => void = () => {};
    const all = new Promise<void>((r) => (done = r));
    const receiver = http.createServer((req, res) => {
      if (/[?&]d=1(&|$)/.test(req.url ?? '')) {
        delivered++;
        lastAt = performance.now();
        if (delivered === COUNT) done();
      }
      res.end('ok');
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    const rport = (receiver.address() as { port: number }).port;
    const agent = keepAliveAgent(64);
    const cpu = cpuMeter({ kannel: rig.pids() });
    const t0 = performance.now();
    let next = 0;
    let refused = 0;
    const lane = async () => {
      for (let i = next++; i < COUNT; i = next++) {
        if (rate > 0) {
          const wait = t0 + (i * 1000) / rate - performance.now();
          if (wait > 0) await sleep(wait);
        }
        const to = `+62819${String(10_000_000 + i + rate * 10_000)}`;
        const dlr = `http://127.0.0.1:${rport}/dlr?i=${i}&d=%d&f=%F`;
        const q = new URLSearchParams({ username: rig!.user, password: rig!.password, from: 'DOSIS', to, text: `Sertifikat vaksin dosis 1/2 a.n. Budi S. sudah terbit: https://dosis.test/c/${'A'.repeat(22)}`, 'dlr-mask': '31', 'dlr-url': dlr });
        const r = await request(rig!.sendsmsUrl.replace(/\/cgi-bin\/sendsms$/, ''), 'GET', `/cgi-bin/sendsms?${q.toString()}`, undefined, {}, { agent });
        if (!r.text.startsWith('0:')) refused++;
      }
    };
    await Promise.all(Array.from({ length: 64 }, lane));
    const acceptedAt = performance.now();
    await Promise.race([all, sleep(120_000)]);
    const secs = (lastAt - t0) / 1000;
    const got = delivered / secs;
    ceiling = Math.max(ceiling, got);
    console.log(
      `   fed ${rate > 0 ? `at ${rate}/s` : 'as fast as it takes (64 in flight)'}: ${COUNT} accepted in ${((acceptedAt - t0) / 1000).toFixed(2)} s` +
        `${refused ? ` (${refused} not accepted)` : ''}, last report after ${secs.toFixed(2)} s → ${got.toFixed(0)} delivered/s; ${cpu(secs)}`,
    );
    agent.destroy();
    receiver.close();
  }
  console.log(`   ceiling: ${ceiling.toFixed(0)} messages/s delivered\n`);

  // ---- 2. Dosis, backlog --------------------------------------------------------------------
  scratch = await createScratchDatabase('dosis_bench_notify');
  db = postgresDb({ connectionString: scratch.url, max: 4 });
  if (o['async-commit']) {
    await db.query(`ALTER DATABASE ${scratch.name} SET synchronous_commit = off`);
    console.log('(diagnostic: synchronous_commit = off)');
  }
  const port = await freePort();
  const common = {
    DATABASE_URL: scratch.url,
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    SMS_GATEWAY: 'kannel',
    KANNEL_URL: rig.sendsmsUrl,
    KANNEL_USER: rig.user,
    KANNEL_PASSWORD: rig.password,
    DOSIS_ADMIN_TOKEN: ADMIN,
    LOG_LEVEL: 'warn',
  };
  serve = await startServer({ port, env: { ...common, DOSIS_WORKER: 'false' } });
  const token = await facilityToken(serve.url, ADMIN, 'PKM-BENCH');
  const people = new PeopleGenerator();
  const agent = keepAliveAgent(64);
  const post = (body: unknown) => request(serve!.url, 'POST', '/api/v1/vaccinations', body, { authorization: `Bearer ${token}` }, { agent });
  {
    let next = 0;
    const batch = people.take(COUNT);
    const lane = async () => {
      for (let i = next++; i < COUNT; i = next++) {
        const r = await post(doseRequest(batch[i]!));
        if (r.status !== 201) throw new Error(`recording: ${r.status} ${r.text}`);
      }
    };
    const t = performance.now();
    await Promise.all(Array.from({ length: 16 }, lane));
    console.log(`2. Dosis, backlog: ${COUNT} doses recorded (worker off) in ${((performance.now() - t) / 1000).toFixed(1)} s; starting dosis worker`);
  }
  worker = spawnDosis(['worker', '--concurrency', o.concurrency], {
    env: { ...common, SMS_MAX_PER_SECOND: o['max-per-second'], ...(o['sends-in-flight'] ? { SMS_SENDS_IN_FLIGHT: o['sends-in-flight'] } : {}) },
  });
  if (o['sends-in-flight']) console.log(`   (worker's sendsms requests in flight per route: SMS_SENDS_IN_FLIGHT=${o['sends-in-flight']})`);
  if (o['max-per-second'] !== '0') console.log(`   (worker capped at SMS_MAX_PER_SECOND=${o['max-per-second']})`);
  await worker.waitForOutput(/started/, 30_000);
  const cpu2 = cpuMeter({ 'dosis worker': [worker.proc.pid!], 'dosis serve': [serve.proc.pid!], kannel: rig.pids() });
  const w0 = performance.now();
  const deliveredCount = async () => (await db!.query<{ n: number }>("SELECT count(*)::int8 AS n FROM notifications WHERE status = 'delivered'")).rows[0]!.n;
  while ((await deliveredCount()) < COUNT && performance.now() - w0 < 180_000) await sleep(100);
  const span = await db.query<{ secs: number; n: number; fed: number }>(
    `SELECT extract(epoch FROM max(final_at) - min(created_at))::float8 AS secs, count(*)::int8 AS n,
            extract(epoch FROM (SELECT max(at) FROM notification_events WHERE type = 'submitted') - min(created_at))::float8 AS fed
       FROM notifications WHERE status = 'delivered'`,
  );
  const b = span.rows[0]!;
  console.log(`   the worker handed the last one to Kannel after ${b.fed.toFixed(2)} s (${(b.n / b.fed).toFixed(0)}/s accepted)`);
  const e2e = b.n / b.secs;
  console.log(`   ${b.n} delivered; first notification saved → last report stored: ${b.secs.toFixed(2)} s`);
  console.log(`   end to end: ${e2e.toFixed(0)} messages/s delivered = ${((e2e / ceiling) * 100).toFixed(0)}% of Kannel's ceiling (${ceiling.toFixed(0)}/s)`);
  // A slow Kannel (a send past SMS_SEND_TIMEOUT_MS) counts as a gateway failure and may pause the route: say so.
  const gw = await db.query<{ waits: number; outages: number }>(
    "SELECT (SELECT count(*) FROM notification_events WHERE type = 'gateway_wait')::int8 AS waits, (SELECT coalesce(sum(outages), 0) FROM sms_routes)::int8 AS outages",
  );
  console.log(`   gateway waits: ${gw.rows[0]!.waits}, route pauses: ${gw.rows[0]!.outages}`);
  console.log(`   ${cpu2((performance.now() - w0) / 1000)}\n`);

  // ---- 3. Dosis at a fixed rate ---------------------------------------------------------------
  {
    const n = RATE * SECONDS;
    const batch = people.take(n);
    const since = new Date();
    const t0 = performance.now();
    const pending: Promise<unknown>[] = [];
    let failed = 0;
    for (let i = 0; i < n; i++) {
      const due = t0 + (i * 1000) / RATE;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      pending.push(post(doseRequest(batch[i]!)).then((r) => r.status === 201 || failed++, () => failed++));
    }
    await Promise.all(pending);
    const sendSecs = (performance.now() - t0) / 1000;
    const until = performance.now() + 60_000;
    const q = () =>
      db!.query<{ accept_ms: number | null; deliver_ms: number | null }>(
        `SELECT extract(epoch FROM (SELECT min(e.at) FROM notification_events e
                                     WHERE e.person_id = n.person_id AND e.notification_id = n.id AND e.type = 'submitted') - v.recorded_at)::float8 * 1000 AS accept_ms,
                CASE WHEN n.status = 'delivered' THEN extract(epoch FROM n.final_at - v.recorded_at)::float8 * 1000 END AS deliver_ms
           FROM vaccinations v
           JOIN certificates c ON c.person_id = v.person_id AND c.vaccination_id = v.id
           JOIN notifications n ON n.person_id = c.person_id AND n.certificate_id = c.id
          WHERE v.recorded_at >= $1`,
        [since],
      );
    let rows = (await q()).rows;
    while (rows.filter((r) => r.deliver_ms !== null).length < n - failed && performance.now() < until) {
      await sleep(200);
      rows = (await q()).rows;
    }
    const accept = rows.map((r) => r.accept_ms).filter((x): x is number => x !== null);
    const deliver = rows.map((r) => r.deliver_ms).filter((x): x is number => x !== null);
    console.log(`3. Dosis at ${RATE} doses/s for ${SECONDS} s (open loop, POST /api/v1/vaccinations, worker running)`);
    console.log(`   ${n} posted in ${sendSecs.toFixed(1)} s (${failed} failed); ${accept.length} accepted by Kannel, ${deliver.length} delivered`);
    console.log(`   record → gateway acceptance: p50 ${pct(accept, 50).toFixed(0)} ms, p99 ${pct(accept, 99).toFixed(0)} ms, max ${Math.max(...accept).toFixed(0)} ms`);
    console.log(`   record → delivery report:    p50 ${pct(deliver, 50).toFixed(0)} ms, p99 ${pct(deliver, 99).toFixed(0)} ms, max ${Math.max(...deliver).toFixed(0)} ms`);
  }
  const dups = [...sim.duplicates().values()].reduce((a, v) => a + v, 0);
  console.log(`\nDuplicate sends seen by the SMSC: ${dups}`);
  console.log(`Load average after: ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  agent.destroy();
} finally {
  await worker?.kill();
  await serve?.kill();
  await db?.close();
  await scratch?.drop();
  await rig?.stop();
  await sim.stop();
}
