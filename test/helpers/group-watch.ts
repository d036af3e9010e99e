/**
 * The first import of every group file (scripts/test-groups.ts): when the
 * group's tests have ended, a process that is still alive 30 s later is
 * stuck (a root hook that never ends, a timer or a handle something left
 * behind). It then prints what keeps it alive and exits non-zero: the run
 * fails at once, naming the group, instead of waiting out the ten-minute test
 * timeout. Its root after() is registered before any member's, so it runs
 * first; it also fails the group at once if it runs before groupLoaded() (the
 * root ended while a file was still loading: scripts/test-groups.ts).
 *
 * What it prints: the resources Node counts, and where each timer of a
 * tenth of a second or more that is still pending was set (the global setTimeout and
 * setInterval of this process remember the stack of those, and forget it
 * when the timer fires or is cleared; shorter timers are not followed).
 */
import { after } from 'node:test';

const GRACE_MS = 30_000;
const LONG_MS = 100;

const pending = new Map<NodeJS.Timeout, { what: string; at: Error }>();
const setT = globalThis.setTimeout;
const setI = globalThis.setInterval;
const clearT = globalThis.clearTimeout;
const clearI = globalThis.clearInterval;
/** Where a timer was set, read only if it is reported (an Error formats its stack when first read). */
const where = (set: Error): string =>
  (set.stack ?? '')
    .split('\n')
    .slice(2, 8)
    .map((l) => l.trim())
    .join(' < ');
const followed = <A extends unknown[]>(set: typeof setT | typeof setI, once: boolean) =>
  function (this: unknown, fn: (...a: A) => void, ms?: number, ...args: A): NodeJS.Timeout {
    if (typeof fn !== 'function' || (ms ?? 0) < LONG_MS) return set(fn, ms, ...args);
    const t: NodeJS.Timeout = set(
      (...a: A) => {
        if (once) pending.delete(t);
        fn(...a);
      },
      ms,
      ...args,
    );
    pending.set(t, { what: `${once ? 'setTimeout' : 'setInterval'}(${ms} ms)`, at: new Error() });
    return t;
  };
globalThis.setTimeout = Object.assign(followed(setT, true), setT) as typeof setT;
globalThis.setInterval = Object.assign(followed(setI, false), setI) as typeof setI;
globalThis.clearTimeout = (t?: NodeJS.Timeout | string | number) => {
  if (t instanceof Object) pending.delete(t);
  clearT(t);
};
globalThis.clearInterval = (t?: NodeJS.Timeout | string | number) => {
  if (t instanceof Object) pending.delete(t);
  clearI(t);
};

let loaded = false;
/** Called by a group's files module once every file in it is loaded (scripts/test-groups.ts). */
export function groupLoaded(): void {
  loaded = true;
}

after(() => {
  if (!loaded) {
    // node:test ended the root while a file was still loading: the files loaded after it would run
    // without the root's after() hooks (the shared PGlite never closed). test-groups.ts says why.
    console.error(
      `This group's tests ran out before all its files were loaded (${process.argv[1] ?? ''}): a module it imports has a top-level await; add it to TOP_LEVEL_AWAIT in scripts/test-groups.ts`,
    );
    process.exit(1);
  }
  const watch = setT(() => {
    const timers = [...pending].filter(([t]) => t.hasRef()).map(([, p]) => `  ${p.what} ${where(p.at)}`);
    console.error(
      `This test process is still alive ${GRACE_MS / 1000} s after its tests ended: ${process.argv[1] ?? ''}\n` +
        `  resources: ${process.getActiveResourcesInfo().join(', ')}\n` +
        `  timers of ${LONG_MS} ms or more still pending:\n${timers.join('\n') || '  none'}`,
    );
    process.exit(1);
  }, GRACE_MS);
  watch.unref(); // fires only while something else keeps the process alive
});
