/** CPU time of processes, read from /proc (Linux), for the benchmarks that report CPU-seconds per process. */
import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: /proc times are in 1/100 s. */
export const TICK = 100;

/** CPU seconds (user + system) used so far by the processes whose command line matches. */
export function cpuSeconds(match: (cmd: string, pid: number) => boolean): number {
  let ticks = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (!match(cmd, Number(d))) continue;
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime + stime (signing threads are threads of their process, counted with it).
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // gone meanwhile
    }
  }
  return ticks / TICK;
}
