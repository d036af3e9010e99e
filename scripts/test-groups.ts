/**
 * Short test files run several to a process: a group is a file the runner
 * writes (test-results/groups/group-NN.test.ts) that imports its members
 * (group-NN.files.ts, after the modules with a top-level await), so
 * that node:test runs their suites one after another in one process, which
 * loads the server's modules, compiles PGlite's WebAssembly and warms the JIT
 * once for all of them. The first member takes the PGlite template's migrated
 * schema (test/helpers/db.ts), the others migrate one on the same PGlite (a
 * quarter of a second of CPU, against a second for a process and its PGlite).
 * Measured on the 96 main-lane files under 10 s: 10 of them took 27.4 s of CPU
 * alone and 10.6 s in one process; all 96 took 202 core-seconds instead of
 * about 290.
 *
 * What a member shares with the others in its process: the module-level state
 * of the modules they both import (none of our test helpers holds more than a
 * counter or a cache), top-level hooks (a top-level after() runs when the
 * group ends), and the process's environment, which no test file changes.
 * Members are ordered by path and cut into groups by the previous run's
 * durations, so a group is the same from one run to the next unless a
 * duration moves a cut. The group files stay after the run: a failing group
 * runs again on its own with `node --test test-results/groups/group-NN.test.ts`,
 * and DOSIS_TEST_GROUPS=0 runs every file in a process of its own.
 *
 * No node:test import here: scripts/test.ts uses this module.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { RunSummary } from './test-summary.ts';

export const GROUPS_DIR = 'test-results/groups';
/** Imported first by every group: ends a group process that outlives its tests, saying what holds it. */
const WATCH = 'test/helpers/group-watch.ts';
/**
 * The modules with a top-level await that the test files import. A group loads them before its
 * files (see groupShortFiles): ECMAScript modules evaluate an importer's other imports while one of
 * them awaits, so a file that does not import them would start its tests meanwhile, and node:test
 * ends the process's root (running its after() hooks, which close the shared PGlite) whenever no
 * test is left to run: the files loaded later then ran after it, and the PGlite they opened was
 * never closed (its timer kept the process alive for good). A module of this kind that is not in
 * the list is caught: the group then fails, saying its root ended before all its files were loaded.
 */
const TOP_LEVEL_AWAIT = ['test/helpers/db.ts', 'src/domain/nik.ts'];
/** A file that took longer than this in the previous run runs in a process of its own: there the process costs little beside the tests, and a long file in a group would hold the group's other files back. */
export const GROUP_FILE_MAX_MS = 8000;
/** About this much test time per group, by the previous run's durations: enough to share a process's costs, short enough that the lane still balances its two cores at the end. */
export const GROUP_TARGET_MS = 20_000;

export interface Grouping {
  /** What the lane runs: files alone, and the group files. */
  entries: string[];
  /** Each group file's members (paths as given). */
  members: Map<string, string[]>;
  /** Each entry's expected duration (a group's: the sum of its members'). */
  expectedMs: Map<string, number>;
}

/**
 * Writes the group files of the files that took under GROUP_FILE_MAX_MS last time (a file never
 * timed runs alone: it may be long) and answers what the lane runs instead of `files`; with
 * `enabled` false (DOSIS_TEST_GROUPS=0), every file alone.
 */
export function groupShortFiles(files: string[], lastMs: Record<string, number>, enabled = true): Grouping {
  rmSync(GROUPS_DIR, { recursive: true, force: true });
  const short = enabled ? files.filter((f) => (lastMs[f] ?? Infinity) < GROUP_FILE_MAX_MS).sort() : [];
  const expectedMs = new Map<string, number>(files.map((f) => [f, lastMs[f] ?? Infinity]));
  const members = new Map<string, string[]>();
  if (short.length < 2) return { entries: files, members, expectedMs };
  const cuts: string[][] = [[]];
  let sum = 0;
  for (const f of short) {
    if (sum >= GROUP_TARGET_MS) {
      cuts.push([]);
      sum = 0;
    }
    cuts.at(-1)!.push(f);
    sum += lastMs[f]!;
  }
  mkdirSync(GROUPS_DIR, { recursive: true });
  const from = (f: string): string => `'${relative(GROUPS_DIR, f).replaceAll('\\', '/')}'`;
  cuts.forEach((group, i) => {
    const name = `group-${String(i + 1).padStart(2, '0')}`;
    const path = join(GROUPS_DIR, `${name}.test.ts`);
    // Two stages: the modules with a top-level await first (TOP_LEVEL_AWAIT), then every file in one
    // synchronous evaluation, so that each file's suites are declared before any test runs.
    writeFileSync(
      path,
      [
        `// Made by scripts/test.ts (test-groups.ts): the files of ${name}.files.ts run one after another in this process.`,
        ...[WATCH, ...TOP_LEVEL_AWAIT].map((f) => `await import(${from(f)});`),
        `await import('./${name}.files.ts');`,
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(GROUPS_DIR, `${name}.files.ts`),
      [`import { groupLoaded } from ${from(WATCH)};`, ...group.map((f) => `import ${from(f)};`), 'groupLoaded();', ''].join('\n'),
    );
    members.set(path, group);
    expectedMs.set(path, group.reduce((s, f) => s + lastMs[f]!, 0));
  });
  const grouped = new Set(short);
  return { entries: [...files.filter((f) => !grouped.has(f)), ...members.keys()], members, expectedMs };
}

/**
 * The run's files as the user wrote them: a group's summary entry becomes one per member, each
 * with the time of its own top-level suites and tests (without its share of the module loads),
 * passed when none of its tests failed and the group did not fail before any of its tests ran.
 */
export function membersOf(run: RunSummary, grouping: Grouping): RunSummary['files'] {
  const byPath = new Map([...grouping.members].map(([g, m]) => [resolve(g), m]));
  const out: RunSummary['files'] = [];
  for (const f of run.files) {
    const members = byPath.get(resolve(f.file));
    if (!members) {
      out.push(f);
      continue;
    }
    for (const m of members) {
      const file = resolve(m);
      const tests = run.tests.filter((t) => resolve(t.file) === file);
      const ms = run.topLevel.filter((t) => resolve(t.file) === file).reduce((s, t) => s + t.ms, 0);
      out.push({ file, ms: Math.round(ms), passed: (f.passed || tests.length > 0) && tests.every((t) => t.status !== 'failed') });
    }
  }
  return out;
}
