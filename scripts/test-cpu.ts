/**
 * CPU per test file: runs the given test files (default: all) one at a time,
 * each under /usr/bin/time, and writes the CPU seconds of each file's process
 * tree (user + system of every process it waited for: node, the `dosis` it
 * starts, Chromium, Kannel) and of the PostgreSQL backends that served it
 * (sampled: see watchPostgres) to
 * test-results/cpu.json, and prints them, the most first.
 *
 *   node scripts/test.ts test/domain/dates.test.ts   # once: makes the PGlite templates
 *   node scripts/test-cpu.ts [test/records …]
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync, writeFileSync, globSync } from 'node:fs';
import { resolve } from 'node:path';
import { TEST_NODE_FLAGS } from '../test/helpers/services.ts';

const args = process.argv.slice(2);
const files = globSync('test/**/*.test.ts')
  .filter((f) => args.length === 0 || args.some((a) => f.startsWith(a.replace(/^\.\//, ''))))
  .sort();
const TICK = 100;

interface Proc {
  ppid: string;
  cpu: number;
  cmd: string;
}
function processes(): Map<string, Proc> {
  const all = new Map<string, Proc>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      all.set(pid, { ppid: f[1]!, cpu: (Number(f[11]) + Number(f[12])) / TICK, cmd: s.includes('(postgres)') ? readFileSync(`/proc/${pid}/cmdline`, 'utf8') : '' });
    } catch {
      // gone
    }
  }
  return all;
}

/** The local TCP ports of the sockets that the processes under `root` hold. */
function portsOf(root: number, all: Map<string, Proc>): Set<number> {
  const tree = new Set([String(root)]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, p] of all) {
      if (!tree.has(pid) && tree.has(p.ppid)) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  const inodes = new Set<string>();
  for (const pid of tree) {
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        try {
          const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
          if (m) inodes.add(m[1]!);
        } catch {
          // closed
        }
      }
    } catch {
      // gone
    }
  }
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const row of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const c = row.trim().split(/\s+/);
      if (c.length > 9 && inodes.has(c[9]!)) ports.add(parseInt(c[1]!.split(':')[1]!, 16));
    }
  }
  return ports;
}

/**
 * The CPU of the PostgreSQL backends that serve the process tree under `root`, sampled every
 * 100 ms (a backend's client port is one of the tree's sockets; the last sample of a backend
 * that ended counts, so a little of each is lost).
 */
function watchPostgres(root: number): { stop(): number } {
  const seen = new Map<string, { port: number; first: number; last: number }>();
  const sample = (): void => {
    const all = processes();
    const ports = portsOf(root, all);
    for (const [pid, p] of all) {
      const m = /^postgres: [^ ]+: \S+ \S+ [\d.:a-f]+\((\d+)\)/.exec(p.cmd.replace(/\0/g, ' '));
      if (!m) continue;
      const port = Number(m[1]);
      const known = seen.get(pid);
      if (known && known.port === port) known.last = p.cpu;
      else if (ports.has(port)) seen.set(pid, { port, first: known ? p.cpu : 0, last: p.cpu });
    }
  };
  const timer = setInterval(sample, 100);
  return {
    stop() {
      clearInterval(timer);
      sample();
      let total = 0;
      for (const s of seen.values()) total += s.last - s.first;
      return total;
    },
  };
}

const OUT = process.env.DOSIS_TEST_CPU_OUT ?? 'test-results/cpu.json';
type Row = { cpu: number; user: number; sys: number; wall: number; pg: number; ok: boolean };
const results = (existsSync(OUT) ? JSON.parse(readFileSync(OUT, 'utf8')) : {}) as Record<string, Row>;
for (const file of files) {
  const child = spawn('/usr/bin/time', ['-f', '@@cpu %U %S %e', process.execPath, ...TEST_NODE_FLAGS, '--test', '--test-reporter=dot', file], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, NODE_NO_WARNINGS: '1', NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE ?? resolve('test-results/compile-cache') },
  });
  const watch = watchPostgres(child.pid!);
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
  const status = await new Promise<number | null>((done) => child.on('close', done));
  const pg = watch.stop();
  const m = /@@cpu ([\d.]+) ([\d.]+) ([\d.]+)/.exec(stderr);
  const [user, sys, wall] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [NaN, NaN, NaN];
  results[file] = { cpu: +(user + sys).toFixed(2), user, sys, wall, pg: +pg.toFixed(2), ok: status === 0 };
  console.log(`${(user + sys).toFixed(1).padStart(7)} s cpu ${pg.toFixed(1).padStart(6)} s pg ${wall.toFixed(1).padStart(7)} s wall  ${file}${status === 0 ? '' : '  (FAILED)'}`);
  writeFileSync(OUT, JSON.stringify(results, null, 1));
}
const rows = Object.entries(results).sort((a, b) => b[1].cpu + b[1].pg - (a[1].cpu + a[1].pg));
let sum = 0;
let pgSum = 0;
for (const [, v] of rows) {
  sum += v.cpu;
  pgSum += v.pg;
}
console.log(`\nfiles: ${rows.length}, test processes ${sum.toFixed(0)} CPU-s, PostgreSQL ${pgSum.toFixed(0)} CPU-s; the most:`);
for (const [f, v] of rows.slice(0, 25)) console.log(`${v.cpu.toFixed(1).padStart(7)} + ${v.pg.toFixed(1).padStart(5)} pg  ${f}`);
