/**
 * Reads a V8 `.cpuprofile` (node --cpu-prof) and ranks where the time went:
 * self time by area (a package, a src/ folder, Node internals, GC) and by
 * function, and inclusive time by function. Idle time is left out of the
 * shares, so they add up to the time the process was on the CPU.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  startTime: number;
  endTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface Ranked {
  name: string;
  ms: number;
  share: number;
}

export interface ProfileSummary {
  busyMs: number;
  idleMs: number;
  areas: Ranked[];
  selfByFunction: Ranked[];
  inclusiveByFunction: Ranked[];
}

/** The area a frame belongs to: `pg-protocol`, `src/certificates`, `node:internal/…`, `(garbage collector)`. */
export function areaOf(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return pkg[1]!;
  const src = /\/(src|test|bench)\/([^/]+)\//.exec(url);
  if (src) return `${src[1]}/${src[2]}`;
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  return url.replace(/^file:\/\//, '');
}

function frameName(n: ProfileNode): string {
  const { functionName, url, lineNumber } = n.callFrame;
  const file = url ? url.replace(/^.*\/(node_modules\/(?:@[^/]+\/)?[^/]+|src|test|bench)\//, '$1/').replace(/^file:\/\//, '') : '';
  return `${functionName || '(anonymous)'}${file ? ` ${file}:${lineNumber + 1}` : ''}`;
}

/**
 * Summarises one profile file; with a window (µs of the monotonic clock,
 * `process.hrtime.bigint() / 1000n` in any process of this machine), only the
 * samples taken inside it.
 */
export function summarizeProfile(path: string, top = 20, window?: { fromUs: bigint; toUs: bigint }): ProfileSummary {
  const p = JSON.parse(readFileSync(path, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the time before sample i; attribute the time after a sample to it.
  const from = window ? Number(window.fromUs) : -Infinity;
  const to = window ? Number(window.toUs) : Infinity;
  let at = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    at += p.timeDeltas[i] ?? 0;
    if (at < from || at > to) continue;
    const dt = p.timeDeltas[i + 1] ?? 0;
    selfUs.set(p.samples[i]!, (selfUs.get(p.samples[i]!) ?? 0) + dt);
  }
  let idleUs = 0;
  let busyUs = 0;
  const areas = new Map<string, number>();
  const selfFn = new Map<string, number>();
  const inclFn = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    if (n.callFrame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    busyUs += us;
    const area = areaOf(n.callFrame.url, n.callFrame.functionName);
    areas.set(area, (areas.get(area) ?? 0) + us);
    const name = frameName(n);
    selfFn.set(name, (selfFn.get(name) ?? 0) + us);
    // Inclusive: every distinct function on the stack gets the sample once.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!;
      if (f.callFrame.functionName === '(root)') break;
      const fname = frameName(f);
      if (seen.has(fname)) continue;
      seen.add(fname);
      inclFn.set(fname, (inclFn.get(fname) ?? 0) + us);
    }
  }
  const rank = (m: Map<string, number>): Ranked[] =>
    [...m.entries()]
      .map(([name, us]) => ({ name, ms: us / 1000, share: busyUs ? us / busyUs : 0 }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top);
  return { busyMs: busyUs / 1000, idleMs: idleUs / 1000, areas: rank(areas), selfByFunction: rank(selfFn), inclusiveByFunction: rank(inclFn) };
}

/** Prints a summary as three ranked lists. */
export function printProfileSummary(title: string, s: ProfileSummary, perItem?: { label: string; count: number }): void {
  const per = (ms: number) => (perItem && perItem.count ? `  ${((ms * 1000) / perItem.count).toFixed(0).padStart(5)} µs/${perItem.label}` : '');
  const line = (r: Ranked) => `  ${(r.share * 100).toFixed(1).padStart(5)} %  ${r.ms.toFixed(0).padStart(7)} ms${per(r.ms)}  ${r.name}`;
  console.log(`\n${title}: ${s.busyMs.toFixed(0)} ms on CPU, ${s.idleMs.toFixed(0)} ms idle${per(s.busyMs)}`);
  console.log('Self time by area:');
  for (const r of s.areas) console.log(line(r));
  console.log('Self time by function:');
  for (const r of s.selfByFunction) console.log(line(r));
  console.log('Inclusive time by function:');
  for (const r of s.inclusiveByFunction) console.log(line(r));
}
