/**
 * A node:test reporter that writes what the run did as one JSON document (the
 * destination given by --test-reporter-destination): each file's duration,
 * every finished test with the names of its suites, and every skip with its
 * reason. scripts/test.ts reads it to print the closing summary (tallies by
 * kind, skips, the slowest files) and to fail a run that skipped what nobody
 * asked to skip.
 */
import type { TestEvent } from 'node:test/reporters';

/** One finished test (not a suite). */
export interface TestOutcome {
  file: string;
  /** The test's name, after the names of the suites around it (outermost first). */
  path: string[];
  status: 'passed' | 'failed' | 'skipped' | 'todo';
  /** Why it was skipped, as the test declared. */
  reason?: string;
}

/** What scripts/test.ts reads back. */
export interface RunSummary {
  files: { file: string; ms: number; passed: boolean }[];
  tests: TestOutcome[];
  /** Suites skipped whole (their tests never ran, so they are not in `tests`). */
  skippedSuites: { file: string; path: string[]; reason: string }[];
  /** Diagnostics a test gave for the closing summary (`t.diagnostic('conformance: …')`). */
  notes: string[];
  /**
   * Each top-level suite or test with its duration, by the file of its tests (a suite declared by a
   * helper, describeEachBackend, belongs to the file that called it): the time of each file of a
   * group, which node:test times as one (scripts/test-groups.ts).
   */
  topLevel: { file: string; ms: number }[];
}

interface Open {
  outcome: TestOutcome | null;
  nesting: number;
  /** The shallowest suite level that already claimed this entry. */
  level: number;
  suite?: { path: string[]; reason: string };
}

function reasonOf(skip: unknown): string {
  return typeof skip === 'string' ? skip : 'skipped';
}

export default async function* summary(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  const run: RunSummary = { files: [], tests: [], skippedSuites: [], notes: [], topLevel: [] };
  // The finished entries not yet claimed by their outermost suite. node:test
  // reports a file's events together (a file running beside it is buffered
  // until it is done), children before their suite: so a suite at nesting k
  // claims every open entry deeper than k that no sibling claimed yet. (The
  // file of a suite is where describe() was called, a helper sometimes, so
  // entries are not grouped by file.)
  const list: Open[] = [];
  for await (const event of source) {
    if (event.type === 'test:diagnostic') {
      if (event.data.message.startsWith('conformance: ')) run.notes.push(event.data.message);
      continue;
    }
    if (event.type === 'test:summary') {
      if (event.data.file) run.files.push({ file: event.data.file, ms: Math.round(event.data.duration_ms), passed: event.data.success });
      continue;
    }
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const d = event.data;
    const f = d.file ?? '(unknown)';
    const isSuite = d.details.type === 'suite';
    const skip = 'skip' in d ? d.skip : undefined;
    const todo = 'todo' in d ? d.todo : undefined;
    if (isSuite) {
      let claimed = 0;
      for (const e of list) {
        if (e.level > d.nesting) {
          e.level = d.nesting;
          if (e.outcome) e.outcome.path.unshift(d.name);
          if (e.suite) e.suite.path.unshift(d.name);
          claimed++;
        }
      }
      if (skip !== undefined && claimed === 0) {
        list.push({ outcome: null, nesting: d.nesting, level: d.nesting, suite: { path: [d.name], reason: reasonOf(skip) } });
      }
    } else {
      // A todo test that fails does not fail the run (node:test's rule): it is a known defect, reported as todo.
      const status: TestOutcome['status'] =
        todo !== undefined ? 'todo' : event.type === 'test:fail' ? 'failed' : skip !== undefined ? 'skipped' : 'passed';
      const outcome: TestOutcome = { file: f, path: [d.name], status };
      if (status === 'skipped') outcome.reason = reasonOf(skip);
      if (status === 'todo') outcome.reason = `${reasonOf(todo)}${event.type === 'test:fail' ? ' (fails)' : ' (passes)'}`;
      list.push({ outcome, nesting: d.nesting, level: d.nesting });
    }
    if (d.nesting === 0) {
      run.topLevel.push({ file: list.find((e) => e.outcome)?.outcome?.file ?? f, ms: d.details.duration_ms });
      for (const e of list) {
        if (e.outcome) run.tests.push(e.outcome);
        if (e.suite) run.skippedSuites.push({ file: f, path: e.suite.path, reason: e.suite.reason });
      }
      list.length = 0;
    }
  }
  yield JSON.stringify(run);
}
