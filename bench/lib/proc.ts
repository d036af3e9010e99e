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

/**
 * The machine's busy CPU seconds so far, all processes of all users (/proc/stat: user, nice, system, irq,
 * softirq, steal). Over a run on a shared machine its difference bounds from above what the run's own
 * processes used.
 */
export function machineSeconds(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
  return ((f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0)) / TICK;
}

/**
 * CPU seconds of a changing set of processes (PostgreSQL backends come and go: a pool closes idle
 * connections), sampled: each matching process's own CPU time is kept per pid at every `sample()`, so a
 * backend that ended after it was sampled still counts up to its last sample. What a backend used after
 * its last sample (or in a life shorter than the sampling interval) is missed: a lower bound, close when
 * the backends live long. A process already running at the first sample counts from there.
 */
export class CpuSampler {
  private readonly match: (cmd: string, pid: number) => boolean;
  private readonly first = new Map<number, number>();
  private readonly last = new Map<number, number>();
  private started = false;

  constructor(match: (cmd: string, pid: number) => boolean) {
    this.match = match;
  }

  sample(): void {
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      const pid = Number(d);
      try {
        if (!this.last.has(pid) && !this.match(readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' '), pid)) continue;
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const ticks = Number(f[11]) + Number(f[12]);
        // A pid seen again may be a new process that reused it: its time starts again below the last.
        const before = this.last.get(pid);
        if (before !== undefined && ticks < before) this.first.set(pid, (this.first.get(pid) ?? 0) - before);
        if (!this.first.has(pid)) this.first.set(pid, this.started ? 0 : ticks);
        this.last.set(pid, ticks);
      } catch {
        // gone meanwhile
      }
    }
    this.started = true;
  }

  /** CPU seconds used since the first sample by the processes seen (those `only` takes), and how many were seen. */
  seconds(only: (pid: number) => boolean = () => true): { seconds: number; processes: number } {
    let ticks = 0;
    let processes = 0;
    for (const [pid, last] of this.last) {
      if (!only(pid)) continue;
      ticks += last - (this.first.get(pid) ?? 0);
      processes++;
    }
    return { seconds: ticks / TICK, processes };
  }
}
