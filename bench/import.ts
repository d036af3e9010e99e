/**
 * `npm run bench -- import`: rows per second of a bulk import of a
 * 200,000-row CSV (2 % bad rows of six kinds) through a real `dosis serve`
 * (`POST /api/v1/imports`, every accepted row recorded with its signed EU DCC
 * certificate and its SMS job), on PostgreSQL next to the raw ceiling of the
 * same run — `COPY` of the same file into a plain table of text columns —
 * and on PGlite.
 *
 * The figures are checked, not just timed: the rejected lines must be
 * exactly the bad lines of the file, the certificates as many as the
 * accepted rows; then the same file is uploaded again and must record
 * nothing. The machine has 2 cores shared by the server, its signing threads
 * and PostgreSQL; CPU used by each is printed (from /proc), so a figure taken
 * while something else ran on the machine can be told apart.
 */
import { parseArgs } from 'node:util';
import { createReadStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { createScratchDatabase, facilityToken, PG_URL, request, startServer, uploadFile, type DosisServer } from '../test/helpers/server.ts';
import { generateDoses, toCsv } from '../test/fixtures/import-files.ts';
import { waitForImport } from './lib/imports.ts';
import { cpuSeconds, machineSeconds } from './lib/proc.ts';

const HELP = `npm run bench -- import [options]

  --rows <n>          rows of the file (default 200000)
  --pglite-rows <n>   rows of the file for PGlite (default: the same)
  --bad <share>       share of bad rows (default 0.02)
  --backend <b>       postgres, pglite or both (default both)
  --keep              keep the generated file (its path is printed)
  --socket [dir]      reach PostgreSQL through its Unix socket in dir (default /var/run/postgresql)
                      instead of TCP; --socket=tcp,socket measures both, one after the other
  --server-arg <flag> a node flag for the server process, e.g. --server-arg=--cpu-prof (repeatable)

PostgreSQL: TEST_DATABASE_URL or postgres://postgres@127.0.0.1:5432/test (a scratch
database is created next to it and dropped afterwards).`;

const { values: opts } = parseArgs({
  options: {
    rows: { type: 'string', default: '200000' },
    'pglite-rows': { type: 'string' },
    bad: { type: 'string', default: '0.02' },
    backend: { type: 'string', default: 'both' },
    keep: { type: 'boolean', default: false },
    socket: { type: 'string' },
    'server-arg': { type: 'string', multiple: true, default: [] },
    help: { type: 'boolean', default: false },
  },
});
if (opts.help) {
  console.log(HELP);
  process.exit(0);
}
const ADMIN = 'dos_bench_admin_token_0123456789abcdefgh';
const SOCKET_DIR = '/var/run/postgresql';
/** How the benchmark reaches PostgreSQL: one PostgreSQL run each. */
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
interface Outcome {
  id: string;
  rows: number;
  accepted: number;
  rejected: number;
  alreadyRecorded: number;
  uploadSeconds: number;
  recordSeconds: number;
  serverCpu: number;
  pgCpu: number;
  machineCpu: number;
}

async function importOnce(server: DosisServer, token: string, path: string, pgDb: string | null): Promise<Outcome> {
  const serverPid = server.proc.pid ?? -1;
  const isServer = (_: string, pid: number) => pid === serverPid;
  const isPg = (cmd: string) => cmd.startsWith('postgres:') && (pgDb === null || cmd.includes(pgDb) || !/\d+\.\d+\.\d+\.\d+/.test(cmd));
  const cpu0 = { server: cpuSeconds(isServer), pg: pgDb ? cpuSeconds(isPg) : 0, machine: machineSeconds() };
  const t0 = performance.now();
  const up = await uploadFile(server.url, token, path);
  if (up.status !== 202) throw new Error(`upload: ${up.status} ${JSON.stringify(up.body)}`);
  const t1 = performance.now();
  const s = await waitForImport(server.url, token, up.body.id);
  const t2 = performance.now();
  if (s.status !== 'done') throw new Error(`import ${String(s.status)}: ${JSON.stringify(s)}`);
  return {
    id: up.body.id,
    rows: Number(s.rows),
    accepted: Number(s.accepted),
    rejected: Number(s.rejected),
    alreadyRecorded: Number(s.alreadyRecorded),
    uploadSeconds: (t1 - t0) / 1000,
    recordSeconds: (t2 - t1) / 1000,
    serverCpu: cpuSeconds(isServer) - cpu0.server,
    pgCpu: pgDb ? cpuSeconds(isPg) - cpu0.pg : 0,
    machineCpu: machineSeconds() - cpu0.machine,
  };
}

async function errorLines(server: DosisServer, token: string, id: string): Promise<number[]> {
  const r = await request(server.url, 'GET', `/api/v1/imports/${id}/errors.csv`, undefined, { authorization: `Bearer ${token}` }, { timeoutMs: 120_000 });
  return r.text
    .split('\r\n')
    .slice(1)
    .filter(Boolean)
    .map((l) => Number(l.split(';')[0]));
}

function line(label: string, o: Outcome): string {
  const total = o.uploadSeconds + o.recordSeconds;
  return (
    `${label.padEnd(28)} ${String(o.rows).padStart(8)} rows  upload+check ${o.uploadSeconds.toFixed(1).padStart(5)} s  ` +
    `recording ${o.recordSeconds.toFixed(1).padStart(6)} s = ${Math.round(o.rows / o.recordSeconds).toLocaleString('en').padStart(7)} rows/s  ` +
    `(end to end ${Math.round(o.rows / total).toLocaleString('en')} rows/s)  CPU s: server ${o.serverCpu.toFixed(1)}, postgres ${o.pgCpu.toFixed(1)}, machine ${o.machineCpu.toFixed(1)} of ${(2 * total).toFixed(1)}`
  );
}

async function runBackend(backend: 'postgres' | 'pglite', rows: number, dir: string, transport: 'tcp' | 'socket' = 'tcp'): Promise<void> {
  const file = generateDoses({ rows, seed: backend === 'postgres' ? 101 : 202, badShare: Number(opts.bad) });
  const path = join(dir, `bench-${backend}.csv`);
  writeFileSync(path, toCsv(file, { bom: true }));
  const mib = statSync(path).size / 1024 / 1024;
  const via = backend === 'postgres' ? ` via ${transport === 'tcp' ? new URL(PG_URL).host : `Unix socket ${socketDir}`}` : '';
  console.log(`\n${backend}${via}: ${rows.toLocaleString('en')}-row CSV (${mib.toFixed(1)} MiB), ${file.bad.size} bad rows of 6 kinds${opts.keep ? ` at ${path}` : ''}`);

  const scratch = backend === 'postgres' ? await createScratchDatabase('dosis_bench_import', serverUrl(transport)) : null;
  const dataDir = join(dir, `pglite-${backend}`);
  const server = await startServer({
    env: {
      DOSIS_ADMIN_TOKEN: ADMIN,
      DATABASE_URL: scratch?.url ?? '',
      DOSIS_DATA_DIR: dataDir,
      DOSIS_WORKER: 'false', // SMS sending would compete with recording; the jobs are written all the same
      LOG_LEVEL: 'warn',
    },
    nodeArgs: opts['server-arg'],
    readyTimeoutMs: 120_000,
  });
  try {
    const token = await facilityToken(server.url, ADMIN, 'PKM-BENCH');
    const first = await importOnce(server, token, path, scratch?.name ?? null);
    console.log(line('import (certificates signed)', first));

    // Checked: exactly the bad lines rejected, a certificate per accepted row.
    const rejectedLines = await errorLines(server, token, first.id);
    const expected = [...file.bad.keys()].sort((a, b) => a - b);
    const exact = rejectedLines.length === expected.length && rejectedLines.every((l, i) => l === expected[i]);
    console.log(
      `  checked: ${first.accepted.toLocaleString('en')} accepted (expected ${file.good.toLocaleString('en')}), ${first.rejected} rejected — ` +
        `${exact ? 'exactly the bad lines of the file' : 'NOT the bad lines of the file'}`,
    );
    if (!exact || first.accepted !== file.good) process.exitCode = 1;
    if (scratch) {
      const c = new pg.Client({ connectionString: scratch.url });
      await c.connect();
      const r = await c.query<{ certs: string; jobs: string }>(
        "SELECT (SELECT count(*) FROM certificates) AS certs, (SELECT count(*) FROM jobs WHERE kind = 'notify') AS jobs",
      );
      console.log(`  database: ${r.rows[0]?.certs} certificates, ${r.rows[0]?.jobs} SMS jobs`);
      if (Number(r.rows[0]?.certs) !== first.accepted) process.exitCode = 1;
      await c.end();
    }

    const again = await importOnce(server, token, path, scratch?.name ?? null);
    console.log(line('same file again', again));
    console.log(`  checked: ${again.accepted} recorded, ${again.alreadyRecorded.toLocaleString('en')} already recorded, ${again.rejected} rejected`);
    if (again.accepted !== 0) process.exitCode = 1;

    if (scratch) {
      // The raw ceiling: the same bytes COPY'd into a plain table, no validation, no index, no certificate.
      const c = new pg.Client({ connectionString: scratch.url });
      await c.connect();
      await c.query(
        'CREATE TABLE bench_copy (no text, nik text, nama text, tanggal_lahir text, jk text, hp text, vaksin text, dosis text, tanggal text, batch text)',
      );
      const t0 = performance.now();
      await pipeline(createReadStream(path, { start: 3 }), c.query(copyFrom("COPY bench_copy FROM STDIN WITH (FORMAT csv, DELIMITER ';', HEADER true)")));
      const secs = (performance.now() - t0) / 1000;
      const n = Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM bench_copy')).rows[0]?.n);
      await c.end();
      const copyRate = n / secs;
      console.log(`${'COPY ceiling (same rows)'.padEnd(28)} ${String(n).padStart(8)} rows  ${secs.toFixed(2)} s = ${Math.round(copyRate).toLocaleString('en')} rows/s`);
      const importRate = first.rows / first.recordSeconds;
      console.log(`  import / COPY: ${((100 * importRate) / copyRate).toFixed(1)} % of the ceiling (recording phase; end to end ${((100 * first.rows) / (first.uploadSeconds + first.recordSeconds) / copyRate).toFixed(1)} %)`);
    }
  } finally {
    await server.kill();
    await scratch?.drop();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'dosis-bench-import-'));
try {
  const rows = Number(opts.rows);
  if (opts.backend === 'postgres' || opts.backend === 'both') for (const t of TRANSPORTS) await runBackend('postgres', rows, dir, t);
  if (opts.backend === 'pglite' || opts.backend === 'both') {
    await runBackend('pglite', Number(opts['pglite-rows'] ?? rows), dir);
  }
} finally {
  if (!opts.keep) rmSync(dir, { recursive: true, force: true });
}
