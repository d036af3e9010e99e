/**
 * What a page costs a phone: the scripts it loads (raw and gzip-compressed,
 * as built in web/dist), and a throttled-phone profile for Chromium over CDP.
 * Used by the byte-budget test (test/web/console-weight.test.ts, which never
 * asserts a timing) and by `npm run bench -- pages` (which prints timings).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { BrowserContext, Page } from 'playwright-core';

const DIST = join(import.meta.dirname, '../../web/dist');

export interface ScriptWeight {
  /** URL path, e.g. /assets/console-abc123.js. */
  path: string;
  raw: number;
  gzip: number;
}

/** Size of a built file: raw bytes and gzip level 9 (what web/dist/*.gz holds). */
export function builtSize(path: string): { raw: number; gzip: number } {
  const body = readFileSync(join(DIST, path));
  return { raw: body.length, gzip: gzipSync(body, { level: 9 }).length };
}

/**
 * Starts recording the scripts `page` loads from `base` (modules, dynamic
 * imports and module preloads alike); the returned function lists them, each
 * once, with its built size.
 */
export function watchScripts(page: Page, base: string): () => ScriptWeight[] {
  const seen = new Set<string>();
  page.on('request', (r) => {
    const url = new URL(r.url());
    if (url.origin === new URL(base).origin && url.pathname.endsWith('.js')) seen.add(url.pathname);
  });
  return () => [...seen].sort().map((path) => ({ path, ...builtSize(path) }));
}

export const sum = (scripts: ScriptWeight[], k: 'raw' | 'gzip'): number => scripts.reduce((a, s) => a + s[k], 0);

/**
 * The throttled phone of issue 17: CPU 4× slower, and "slow 3G" as
 * WebPageTest defines it (400 kbit/s down and up, 400 ms round trip).
 */
export const THROTTLED_PHONE = { cpuSlowdown: 4, latencyMs: 400, downloadBytesPerSecond: 50_000, uploadBytesPerSecond: 50_000 } as const;

/** Applies THROTTLED_PHONE to `page` (before it navigates). */
export async function throttle(context: BrowserContext, page: Page): Promise<void> {
  const cdp = await context.newCDPSession(page);
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: THROTTLED_PHONE.cpuSlowdown });
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: THROTTLED_PHONE.latencyMs,
    downloadThroughput: THROTTLED_PHONE.downloadBytesPerSecond,
    uploadThroughput: THROTTLED_PHONE.uploadBytesPerSecond,
  });
}
