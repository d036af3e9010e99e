/**
 * The run's one Chromium, for every browser test file of a run (scripts/test.ts starts this in a
 * process of its own, at the main lane's lower priority, which Chromium and the renderers it forks
 * inherit; run as root, Chromium sets some of its processes' priorities itself). A Playwright
 * server over the Chromium: it prints its WebSocket address on one line, then serves until its
 * stdin ends (the runner is done with it, or died), and closes the browser. Each test file
 * connects and takes fresh contexts (test/web/helpers.ts, launchBrowser): a connection instead of
 * a launch, 0.2 to 0.4 s of CPU less each (measured). Should Chromium end first, it says so and
 * exits with 1: the runner fails the run, and the files still connected fail at once (their
 * connection closes).
 */
import { chromium } from 'playwright-core';
import { CHROMIUM, chromiumArgs } from '../test/helpers/services.ts';

const server = await chromium.launchServer({ executablePath: CHROMIUM, headless: true, args: chromiumArgs() });
let closing = false;
server.on('close', () => {
  if (closing) return;
  const { exitCode, signalCode } = server.process();
  console.error(`The run's shared Chromium ended before the tests did (exit code ${exitCode}, signal ${signalCode}).`);
  process.exit(1);
});
process.stdin.on('end', () => {
  closing = true;
  void server.close().then(() => process.exit(0));
});
process.stdin.resume();
process.stdout.write(`${server.wsEndpoint()}\n`);
