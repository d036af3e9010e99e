/**
 * `npm run bench -- record`: doses per second recorded through HTTP
 * (`POST /api/v1/vaccinations`, the EU DCC certificate signed inside the
 * transaction, an Idempotency-Key on every request as real clients send it)
 * on PostgreSQL and on PGlite, with 1 and 16 concurrent clients, p50/p99
 * latency, next to the raw ceiling measured in the same run: plain
 * single-row INSERTs of a vaccination's columns through the same driver (a
 * `pg` pool of the server's size, 16) from 16 concurrent clients.
 *
 * Set-up, so the figures mean what they say on a 2-core machine:
 * - the server is a real `dosis serve` subprocess (the production entry point)
 *   with DOSIS_WORKER=false, so SMS sending does not compete with recording,
 *   and LOG_LEVEL=warn (no per-request log lines; `--log-level info` to
 *   measure them);
 * - the client is this process, separate from the server's: keep-alive
 *   connections (one TCP socket per client, bench/lib/http-client.ts: Node's
 *   http.request cost ~5× its CPU), bodies serialised before the clock
 *   starts, answers of 201 read by length but not decoded, so the client
 *   takes as little CPU as a client can; its share is printed;
 * - client, server and PostgreSQL share the same 2 cores, so the CPU each used
 *   is printed too (from /proc), per dose, to show what is saturated;
 * - every run starts on an empty database (a new PostgreSQL database, a new
 *   PGlite directory), and after each run the number of stored vaccinations
 *   is checked against the number of 201 answers.
 */
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { PeopleGenerator, doseRequest } from '../test/helpers/people.ts';
import { HttpConnection } from './lib/http-client.ts';
import { createScratchDatabase, facilityToken, PG_URL, REPO_ROOT, startServer, type DosisServer } from '../test/helpers/server.ts';
import { openDb } from '../src/db/open.ts';
import type { Db } from '../src/db/client.ts';
import { printProfileSummary, summarizeProfile } from './lib/cpuprofile.ts';
import { testToken } from '../test/helpers/softhsm.ts';

const HELP = `npm run bench -- record [options]

  --seconds <n>        measuring time per configuration (default 5)
  --backend <b>        postgres, pglite or both (default both)
  --clients <list>     concurrent clients to measure (default 1,16)
  --log-level <level>  the server's LOG_LEVEL (default warn: no per-request log lines)
  --profile            run the server under --cpu-prof and rank where its time went
                       during the run with the most clients (profiles in test-results/profiles/)
  --server-arg <flag>  a node flag for the server process, e.g. --server-arg=--import=./x.ts (repeatable)
  --pg-setting <k=v>   a PostgreSQL setting for the benchmark database (ALTER DATABASE … SET), e.g.
                       plan_cache_mode=force_generic_plan or synchronous_commit=off (repeatable)
  --signer <list>      DOSIS_SIGNER of the server: local (default), pkcs11 (a SoftHSM2 token made for the
                       run), or local,pkcs11 to measure both in the same run, one after the other
  --rounds <n>         repeat every configuration n times, alternating signers (default 1); the summary
                       gives each signer's median, so a noisy shared machine shows as spread, not as a verdict
  --socket [dir]       reach PostgreSQL through its Unix socket in dir (default /var/run/postgresql)
                       instead of TCP, for the server and the raw ceiling alike; --socket=tcp,socket
                       measures both, one after the other

PostgreSQL: TEST_DATABASE_URL or postgres://postgres@127.0.0.1:5432/test (a scratch
database is created next to it and dropped afterwards).`;

const { values: opts } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    backend: { type: 'string', default: 'both' },
    clients: { type: 'string', default: '1,16' },
    'log-level': { type: 'string', default: 'warn' },
    profile: { type: 'boolean', default: false },
    'server-arg': { type: 'string', multiple: true, default: [] },
    'pg-setting': { type: 'string', multiple: true, default: [] },
    socket: { type: 'string' },
    signer: { type: 'string', default: 'local' },
    rounds: { type: 'string', default: '1' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (opts.help) {
  console.log(HELP);
  process.exit(0);
}
const SECONDS = Number(opts.seconds);
const SIGNERS = opts.signer.split(',').map((x) => x.trim());
for (const x of SIGNERS) if (x !== 'local' && x !== 'pkcs11') throw new Error(`--signer: local or pkcs11, not ${x}`);
const ROUNDS = Math.max(1, Number(opts.rounds));
/** Key file and CSCA of the benchmark's servers: beside the run, not in the working tree. */
const KEYS_HOME = mkdtempSync(join(tmpdir(), 'dosis-bench-keys-'));
process.on('exit', () => rmSync(KEYS_HOME, { recursive: true, force: true }));

/** The server's signing configuration for a signer (the pkcs11 token is made once per run). */
function signerEnv(signer: string): Record<string, string> {
  const base = { DOSIS_KEY_FILE: join(KEYS_HOME, 'kek'), DOSIS_CSCA_DIR: join(KEYS_HOME, 'csca') };
  return signer === 'pkcs11' ? { ...base, ...testToken().env } : base;
}
const SOCKET_DIR = '/var/run/postgresql';
/** How the benchmark reaches PostgreSQL: each entry is one PostgreSQL section of the report. */
const TRANSPORTS: ('tcp' | 'socket')[] =
  opts.socket === undefined ? ['tcp'] : opts.socket === 'tcp,socket' || opts.socket === 'both' ? ['tcp', 'socket'] : ['socket'];
const socketDir = opts.socket !== undefined && opts.socket.startsWith('/') ? opts.socket : SOCKET_DIR;
/** The PostgreSQL server URL for a transport (the scratch database is made next to it). */
function serverUrl(transport: 'tcp' | 'socket'): string {
  if (transport === 'tcp') return PG_URL;
  const url = new URL(PG_URL);
  url.hostname = 'localhost';
  url.port = '';
  url.searchParams.set('host', socketDir);
  return url.toString();
}
const CLIENTS = opts.clients.split(',').map(Number);
const BACKENDS = opts.backend === 'both' ? ['postgres', 'pglite'] : [opts.backend];
const PG_SETTINGS = opts['pg-setting'].map((kv) => {
  const m = /^([a-z_]+)=([A-Za-z0-9_.]+)$/.exec(kv);
  if (!m) {
    console.error(`--pg-setting: expected name=value, got "${kv}"`);
    process.exit(2);
  }
  return { name: m[1]!, value: m[2]! };
});
if (!(SECONDS > 0) || CLIENTS.some((c) => !Number.isInteger(c) || c < 1) || BACKENDS.some((b) => b !== 'postgres' && b !== 'pglite')) {
  console.error(HELP);
  process.exit(2);
}
const POOL = 16; // the server's pool (DOSIS_DB_POOL default) and the raw ceiling's pool
const RAW_CLIENTS = 16;
const ADMIN = 'dos_bench_admin_token_0123456789abcdef';
const PROFILE_DIR = resolve(REPO_ROOT, 'test-results/profiles');

// ---------------------------------------------------------------- measuring

interface CpuSnapshot {
  machineBusy: number; // seconds, all cores
  server: number; // seconds
  db: number; // seconds
  client: number; // seconds
  at: bigint;
}

/** Which processes are the server and the database during a measurement. */
interface Watched {
  server?: number;
  /** PostgreSQL backends serving the benchmark's database, and PostgreSQL's own background processes. */
  db?: () => Promise<number[]>;
}

const TICK = 100; // USER_HZ on Linux

function machineBusy(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return (total - f[3]! - (f[4] ?? 0)) / TICK; // minus idle and iowait
}

function processCpu(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICK; // utime, stime
  } catch {
    return 0; // gone
  }
}

async function cpuSnapshot(w: Watched, dbPids: number[]): Promise<CpuSnapshot> {
  const c = process.cpuUsage();
  return {
    machineBusy: machineBusy(),
    server: w.server === undefined ? 0 : processCpu(w.server),
    db: dbPids.reduce((sum, pid) => sum + processCpu(pid), 0),
    client: (c.user + c.system) / 1e6,
    at: process.hrtime.bigint(),
  };
}

/** Cores used on average (1.00 = one core busy all the time). */
interface CpuUse {
  server: number;
  db: number;
  client: number;
  /** Everything else on the machine: other work that competed with the benchmark. */
  rest: number;
}

function cpuUse(a: CpuSnapshot, b: CpuSnapshot): CpuUse {
  const wall = Number(b.at - a.at) / 1e9;
  const server = (b.server - a.server) / wall;
  const db = (b.db - a.db) / wall;
  const client = (b.client - a.client) / wall;
  const rest = Math.max(0, (b.machineBusy - a.machineBusy) / wall - server - db - client);
  return { server, db, client, rest };
}

interface Result {
  label: string;
  clients: number;
  ok: number;
  errors: number;
  firstError?: string;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  cpu: CpuUse;
  window: [bigint, bigint];
  /** Successful requests before the clock started (warm-up). */
  warmUp?: number;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Runs `op` from `clients` concurrent loops for SECONDS; `op` resolves true when it succeeded, else says why not. */
async function measure(label: string, clients: number, op: () => Promise<true | string>, watched: Watched = {}): Promise<Result> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const dbPids = watched.db ? await watched.db() : [];
  const before = await cpuSnapshot(watched, dbPids);
  const end = Date.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (Date.now() < end) {
        const t0 = performance.now();
        const r = await op();
        if (r === true) latencies.push(performance.now() - t0);
        else {
          errors++;
          firstError ??= r;
        }
      }
    }),
  );
  const after = await cpuSnapshot(watched, dbPids);
  const seconds = Number(after.at - before.at) / 1e9;
  const sorted = Float64Array.from(latencies).sort();
  return {
    label,
    clients,
    ok: latencies.length,
    errors,
    ...(firstError ? { firstError } : {}),
    seconds,
    perSecond: latencies.length / seconds,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    cpu: cpuUse(before, after),
    window: [before.at, after.at],
  };
}

/** PostgreSQL processes working for `database`: its backends and the server's background processes. */
function postgresPids(admin: { query: Db['query'] }, database: string): () => Promise<number[]> {
  return async () => {
    const r = await admin.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = $1 OR backend_type <> 'client backend'", [database]);
    return r.rows.map((x) => Number(x.pid));
  };
}

// ---------------------------------------------------------------- HTTP client

/** Dose bodies serialised ahead of time, so the client spends its time sending. */
function bodies(people: PeopleGenerator, n: number): Buffer[] {
  return Array.from({ length: n }, () => Buffer.from(JSON.stringify(doseRequest(people.next()))));
}

async function recordThroughHttp(label: string, server: DosisServer, token: string, clients: number, runTag: string, db?: () => Promise<number[]>): Promise<Result> {
  const people = new PeopleGenerator();
  // One keep-alive connection per client; a client waits for its answer before sending again.
  const connections = Array.from({ length: clients }, () => new HttpConnection(server.port));
  const idle = [...connections];
  const post = async (body: Buffer, key: string) => {
    const c = idle.pop();
    if (!c) throw new Error('more requests in flight than clients');
    try {
      return await c.post('/api/v1/vaccinations', body, { ...auth, 'idempotency-key': key }, (status) => status !== 201);
    } finally {
      idle.push(c);
    }
  };
  const auth = { authorization: `Bearer ${token}` };
  // Warm up (JIT, connections, pool) on separate people, then serialise the bodies of the run.
  const warm = bodies(people, 200 * Math.min(clients, 4));
  let w = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (w < warm.length) await post(warm[w]!, `${runTag}-warm-${w++}`);
    }),
  );
  const ready = bodies(people, Math.ceil(SECONDS * 4000));
  let i = 0;
  const r = await measure(
    label,
    clients,
    async () => {
      const n = i++;
      const body = ready[n] ?? Buffer.from(JSON.stringify(doseRequest(people.next())));
      try {
        const a = await post(body, `${runTag}-${n}`);
        return a.status === 201 ? true : `${a.status} ${a.body.slice(0, 300)}`;
      } catch (e) {
        return (e as Error).message;
      }
    },
    { server: server.pid, ...(db ? { db } : {}) },
  );
  for (const c of connections) c.close();
  return { ...r, warmUp: warm.length };
}

// ---------------------------------------------------------------- raw ceiling

const RAW_TABLE = `CREATE TABLE bench_raw_vaccinations (
  person_id uuid NOT NULL, id uuid NOT NULL, dose_number integer NOT NULL, vaccine text NOT NULL, date date NOT NULL,
  lot text, facility_code text NOT NULL, status text NOT NULL, source text NOT NULL, import_id uuid,
  recorded_by uuid, recorded_at timestamptz NOT NULL, idempotency_key text, PRIMARY KEY (person_id, id))`;
const RAW_INSERT = `INSERT INTO bench_raw_vaccinations (person_id, id, dose_number, vaccine, date, lot, facility_code, status, source,
  import_id, recorded_by, recorded_at, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`;
const rawParams = (n: number) => [randomUUID(), randomUUID(), 1, 'CORONAVAC', '2021-06-10', 'A123', 'PKM-BENCH', 'recorded', 'api', null, randomUUID(), new Date(), `raw-${n}`];

/** Plain single-row INSERTs through a `pg` pool of the server's size: what the database can commit. */
async function rawPostgres(url: string, database: string, clients: number): Promise<Result> {
  const pool = new pg.Pool({ connectionString: url, max: POOL });
  await pool.query(RAW_TABLE);
  let n = 0;
  // Warm the pool's connections.
  await Promise.all(Array.from({ length: POOL }, () => pool.query(RAW_INSERT, rawParams(n++))));
  const r = await measure(
    `raw INSERT, pg pool ${POOL}`,
    clients,
    async () => {
      await pool.query(RAW_INSERT, rawParams(n++));
      return true;
    },
    { db: postgresPids({ query: async (sql, params) => ({ rows: (await pool.query(sql, params as unknown[])).rows, rowCount: 0 }) }, database) },
  );
  const stored = await pool.query<{ n: string }>('SELECT count(*) AS n FROM bench_raw_vaccinations');
  if (Number(stored.rows[0]!.n) !== n) throw new Error(`raw ceiling: ${stored.rows[0]!.n} rows for ${n} inserts`);
  await pool.end();
  return r;
}

/** The same INSERTs into PGlite in this process (PGlite is one connection: callers queue). */
async function rawPglite(db: Db, clients: number): Promise<Result> {
  await db.exec(RAW_TABLE);
  let n = 0;
  return measure('raw INSERT, PGlite in-process', clients, async () => {
    await db.query(RAW_INSERT, rawParams(n++));
    return true;
  });
}

// ---------------------------------------------------------------- runs

async function storedVaccinations(db: Db): Promise<number> {
  const r = await db.query<{ n: number }>('SELECT count(*)::int8 AS n FROM vaccinations');
  return r.rows[0]!.n;
}

interface Section {
  backend: string;
  /** DOSIS_SIGNER of the server. */
  signer: string;
  round: number;
  /** How PostgreSQL was reached. */
  transport?: string;
  http: Result[];
  raw: Result | undefined;
  settings: string;
  profile?: { path: string; window: [bigint, bigint]; doses: number };
}

function serverEnv(extra: Record<string, string>): Record<string, string> {
  return { ...extra, DOSIS_ADMIN_TOKEN: ADMIN, DOSIS_WORKER: 'false', LOG_LEVEL: opts['log-level'], DOSIS_DB_POOL: String(POOL) };
}

function serverArgs(tag: string): string[] {
  if (!opts.profile) return opts['server-arg'];
  mkdirSync(PROFILE_DIR, { recursive: true });
  return [...opts['server-arg'], '--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=record-${tag}-${Date.now()}.cpuprofile`];
}

function newestProfile(tag: string): string | undefined {
  if (!existsSync(PROFILE_DIR)) return undefined;
  const f = readdirSync(PROFILE_DIR).filter((n) => n.startsWith(`record-${tag}-`)).sort().at(-1);
  return f ? join(PROFILE_DIR, f) : undefined;
}

/** Records through the server with each number of clients; returns how many doses were answered 201. */
async function runHttp(section: Section, server: DosisServer, db?: () => Promise<number[]>): Promise<number> {
  const token = await facilityToken(server.url, ADMIN, 'PKM-BENCH');
  let answered = 0;
  for (const c of CLIENTS) {
    const r = await recordThroughHttp(`HTTP, ${section.backend}`, server, token, c, `${section.backend}-${section.transport ?? ''}-${c}`, db);
    if (r.errors) throw new Error(`${label(section)}, ${c} clients: ${r.errors} requests failed; first: ${r.firstError}`);
    answered += r.ok + (r.warmUp ?? 0);
    section.http.push(r);
    process.stderr.write(`  ${label(section)} ${c} client(s): ${r.perSecond.toFixed(0)} doses/s\n`);
  }
  return answered;
}

/** Every answered dose is stored, once: the run measured real work. */
async function checkStored(backend: string, db: Db, answered: number): Promise<void> {
  const stored = await storedVaccinations(db);
  if (stored !== answered) throw new Error(`${backend}: ${stored} vaccinations stored for ${answered} answers 201`);
}

async function benchPostgres(transport: 'tcp' | 'socket', signer: string, round: number): Promise<Section> {
  const scratch = await createScratchDatabase('dosis_bench', serverUrl(transport));
  const section: Section = {
    backend: 'PostgreSQL',
    signer,
    round,
    transport: transport === 'tcp' ? new URL(PG_URL).host : `Unix socket ${socketDir}`,
    http: [],
    raw: undefined,
    settings: '',
  };
  let server: DosisServer | undefined;
  let check = await openDb({ databaseUrl: scratch.url, dataDir: '', poolSize: 1 });
  try {
    if (PG_SETTINGS.length) {
      // Settings apply to new connections: set them before any pool connects.
      for (const { name, value } of PG_SETTINGS) await check.exec(`ALTER DATABASE ${scratch.name} SET ${name} = '${value}'`);
      await check.close();
      check = await openDb({ databaseUrl: scratch.url, dataDir: '', poolSize: 1 });
    }
    const s = await check.query<{ name: string; setting: string }>(
      'SELECT name, setting FROM pg_settings WHERE name = ANY($1::text[]) ORDER BY name',
      [['server_version', 'fsync', 'synchronous_commit', 'shared_buffers', 'wal_level', 'plan_cache_mode', ...PG_SETTINGS.map((x) => x.name)]],
    );
    section.settings = s.rows.map((r) => `${r.name}=${r.setting}`).join(' ');
    process.stderr.write(`${label(section)} (${section.settings}): raw ceiling…\n`);
    section.raw = await rawPostgres(scratch.url, scratch.name, RAW_CLIENTS);
    process.stderr.write(`  raw ${RAW_CLIENTS} clients: ${section.raw.perSecond.toFixed(0)} inserts/s\n`);
    server = await startServer({ env: serverEnv({ DATABASE_URL: scratch.url, ...signerEnv(signer) }), nodeArgs: serverArgs('postgres') });
    const answered = await runHttp(section, server, postgresPids(check, scratch.name));
    await checkStored(section.backend, check, answered);
    await server.stop();
    if (opts.profile) {
      const path = newestProfile('postgres');
      const last = section.http.at(-1)!;
      if (path) section.profile = { path, window: last.window, doses: last.ok };
    }
  } finally {
    await server?.kill();
    await check.close();
    await scratch.drop();
  }
  return section;
}

async function benchPglite(signer: string, round: number): Promise<Section> {
  const home = mkdtempSync(join(tmpdir(), 'dosis-bench-'));
  const dataDir = join(home, 'data');
  const template = join(REPO_ROOT, 'test-results/pglite-template.tar');
  if (existsSync(template)) {
    // An initdb'd directory (made by `npm test`) saves PGlite's first initdb; the database is empty.
    mkdirSync(join(dataDir, 'pglite'), { recursive: true });
    execFileSync('tar', ['xf', template, '-C', join(dataDir, 'pglite')], { stdio: 'ignore' });
  }
  const section: Section = { backend: 'PGlite', signer, round, http: [], raw: undefined, settings: 'PGlite in the server process, one connection, no fsync' };
  let server: DosisServer | undefined;
  try {
    process.stderr.write('PGlite: starting…\n');
    server = await startServer({ env: serverEnv({ DOSIS_DATA_DIR: dataDir, ...signerEnv(signer) }), nodeArgs: serverArgs('pglite'), readyTimeoutMs: 120_000 });
    const answered = await runHttp(section, server);
    await server.stop();
    server = undefined;
    if (opts.profile) {
      const path = newestProfile('pglite');
      const last = section.http.at(-1)!;
      if (path) section.profile = { path, window: last.window, doses: last.ok };
    }
    // The server is stopped: its directory is free for the raw ceiling in this process.
    const db = await openDb({ databaseUrl: undefined, dataDir });
    try {
      await checkStored(section.backend, db, answered);
      section.raw = await rawPglite(db, RAW_CLIENTS);
      process.stderr.write(`  raw ${RAW_CLIENTS} callers: ${section.raw.perSecond.toFixed(0)} inserts/s\n`);
    } finally {
      await db.close();
    }
  } finally {
    await server?.kill();
    rmSync(home, { recursive: true, force: true });
  }
  return section;
}

// ---------------------------------------------------------------- report

/**
 * What the CPU alone allows for a row, were the machine idle: the server is
 * one event loop (≤ 1 core), and server + database + client share all cores.
 */
function cpuBound(r: Result, cores: number): number {
  const perOp = (c: number) => (c * r.seconds) / r.ok; // CPU seconds per op
  const bySingleThread = r.cpu.server > 0 ? 1 / perOp(r.cpu.server) : Infinity;
  const byAllCores = cores / perOp(r.cpu.server + r.cpu.db + r.cpu.client);
  return Math.min(bySingleThread, byAllCores);
}

/** The name of a section in the report: the backend, and for PostgreSQL how it was reached. */
function label(s: Section): string {
  const where = s.transport ? `${s.backend} via ${s.transport}` : s.backend;
  return SIGNERS.length > 1 || ROUNDS > 1 || s.signer !== 'local' ? `${where}, ${s.signer}${ROUNDS > 1 ? ` #${s.round}` : ''}` : where;
}

function table(sections: Section[], cores: number): void {
  const head = ['backend', 'what', 'clients', 'ops', 'ops/s', 'p50 ms', 'p99 ms', 'of raw', 'cores: server', 'db', 'client', 'other', 'µs/op: server', 'db', 'client', 'CPU-bound ops/s'];
  const rows: string[][] = [];
  const us = (cores: number, r: Result) => (r.ok && cores > 0 ? ((cores * r.seconds * 1e6) / r.ok).toFixed(0) : '');
  for (const s of sections) {
    const raw = s.raw;
    for (const r of [...(raw ? [raw] : []), ...s.http]) {
      const isRaw = r === raw;
      const hasDb = s.backend === 'PostgreSQL';
      rows.push([
        label(s),
        isRaw ? r.label : 'record a dose, HTTP',
        String(r.clients),
        String(r.ok) + (r.errors ? ` (+${r.errors} errors)` : ''),
        r.perSecond.toFixed(0),
        r.p50.toFixed(2),
        r.p99.toFixed(2),
        isRaw || !raw ? '' : `${((r.perSecond / raw.perSecond) * 100).toFixed(0)} %`,
        isRaw ? '' : r.cpu.server.toFixed(2),
        hasDb ? r.cpu.db.toFixed(2) : '',
        r.cpu.client.toFixed(2),
        r.cpu.rest.toFixed(2),
        isRaw ? '' : us(r.cpu.server, r),
        hasDb ? us(r.cpu.db, r) : '',
        us(r.cpu.client, r),
        cpuBound(r, cores).toFixed(0),
      ]);
    }
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(fmt(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(fmt(r));
}

const sections: Section[] = [];
const cpus = availableParallelism();
console.log(`Record a dose: POST /api/v1/vaccinations through a dosis serve subprocess; ${SECONDS} s per row; ${cpus} CPU cores shared by client, server and database`);
console.log(`Server: DOSIS_WORKER=false (no SMS sending during the run), LOG_LEVEL=${opts['log-level']}, DOSIS_DB_POOL=${POOL}; client: this process, one keep-alive connection per client (bench/lib/http-client.ts), Idempotency-Key on every request; node ${process.version}`);
console.log(`Signers: ${SIGNERS.join(', ')}${ROUNDS > 1 ? `; ${ROUNDS} rounds, the signers alternating within each` : ''}`);
for (let round = 1; round <= ROUNDS; round++) {
  // Alternate which signer goes first, so that a drift of the machine's load does not favour one.
  const order = round % 2 === 1 ? SIGNERS : [...SIGNERS].reverse();
  for (const b of BACKENDS) {
    for (const signer of order) {
      if (b === 'postgres') for (const t of TRANSPORTS) sections.push(await benchPostgres(t, signer, round));
      else sections.push(await benchPglite(signer, round));
    }
  }
}
console.log('');
for (const s of sections) console.log(`${label(s)}: ${s.settings}`);
console.log(
  [
    'cores: CPU used on average during the row (1.00 = one core all the time): the server process (with PGlite: including the',
    'database), the PostgreSQL processes of the benchmark database, the client (this process), and other = everything else',
    'running on the machine meanwhile (other work competing for the same cores; the figures are only clean when it is ~0).',
    'µs/op: CPU time per operation. CPU-bound ops/s: what the measured CPU per op allows on an otherwise idle machine',
    `(${cpus} cores shared; the server's one event loop at most 1 core); an estimate, not a measurement.`,
    '',
  ].join('\n'),
);
table(sections, cpus);
for (const s of sections) for (const r of [...s.http, ...(s.raw ? [s.raw] : [])]) if (r.firstError) console.log(`${label(s)} ${r.clients} clients: first error: ${r.firstError}`);

for (const pgSection of sections.filter((s) => s.backend === 'PostgreSQL')) {
  const pg16 = pgSection.http.find((r) => r.clients === 16);
  if (!pg16 || !pgSection.raw) continue;
  const share = pg16.perSecond / pgSection.raw.perSecond;
  console.log(
    `\nTarget (issue 2), ${label(pgSection)}: ≥ 1,500 doses/s with 16 clients: ${pg16.perSecond.toFixed(0)} → ${pg16.perSecond >= 1500 ? 'met' : 'NOT met'}; ` +
      `≥ 50 % of the raw-INSERT ceiling: ${(share * 100).toFixed(0)} % → ${share >= 0.5 ? 'met' : 'NOT met'}`,
  );
}
for (const s of sections) {
  if (!s.profile) continue;
  const [from, to] = s.profile.window;
  printProfileSummary(`Server profile, ${label(s)}, the ${CLIENTS.at(-1)}-client run (${s.profile.path})`, summarizeProfile(s.profile.path, 25, { fromUs: from / 1000n, toUs: to / 1000n }), {
    label: 'dose',
    count: s.profile.doses,
  });
}

if (SIGNERS.length > 1) {
  const median = (xs: number[]) => {
    const v = [...xs].sort((a, b) => a - b);
    return v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
  };
  console.log(`\nSigners compared (doses/s through HTTP, median of ${ROUNDS} round(s); each round's figures in the table above):`);
  const where = (s: Section) => (s.transport ? `${s.backend} via ${s.transport}` : s.backend);
  for (const w of [...new Set(sections.map(where))]) {
    for (const c of CLIENTS) {
      const of = (signer: string) => sections.filter((s) => where(s) === w && s.signer === signer).map((s) => s.http.find((r) => r.clients === c)?.perSecond ?? 0);
      const [local, p11] = [of('local'), of('pkcs11')];
      if (!local.length || !p11.length) continue;
      const ratio = median(p11) / median(local);
      console.log(
        `  ${w}, ${c} client(s): local ${median(local).toFixed(0)} [${local.map((x) => x.toFixed(0)).join(', ')}], ` +
          `pkcs11 ${median(p11).toFixed(0)} [${p11.map((x) => x.toFixed(0)).join(', ')}] → pkcs11/local ${(ratio * 100).toFixed(0)} %` +
          ` (${Math.abs(1 - ratio) <= 0.1 ? 'within' : 'NOT within'} 10 %)`,
      );
    }
  }
}
