/**
 * The console's service worker (/sw-console.js, scope /console): after the
 * first visit the console opens with no network at all, so a nurse can keep
 * recording doses (kept in IndexedDB by the page, see queue.ts).
 *
 * - Any console page (/console, /console/…): network first, else the cached
 *   console HTML (one HTML for every console URL; the page routes itself).
 * - Built assets (/assets/…, hashed names, never change): cache first.
 * - The API is never cached or answered here: entries wait in the page's
 *   queue and are sent by the page.
 * The list of files to keep is written into this file at build time
 * (scripts/vite-config.ts), with a version: a new build replaces the cache.
 * The caching helpers repeat verify/sw.ts's on purpose: a module shared by
 * two service workers would become a chunk they import, and service workers
 * run here as classic scripts (the build refuses imports in them).
 */

interface ExtendableEvent extends Event {
  waitUntil(promise: Promise<unknown>): void;
}
interface FetchEvent extends ExtendableEvent {
  readonly request: Request;
  respondWith(response: Response | Promise<Response>): void;
}
interface ServiceWorkerScope {
  readonly location: Location;
  readonly clients: { claim(): Promise<void> };
  skipWaiting(): Promise<void>;
  addEventListener(type: 'install' | 'activate', listener: (event: ExtendableEvent) => void): void;
  addEventListener(type: 'fetch', listener: (event: FetchEvent) => void): void;
}
declare const self: ServiceWorkerScope;

/** Replaced at build time by the built files and the build's version. */
const PRECACHE = '__DOSIS_PRECACHE_LIST__' as unknown as string[];
const VERSION = '__DOSIS_BUILD_VERSION__';

const PREFIX = 'dosis-console-';
const CACHE = PREFIX + VERSION;
const PAGE = '/console';
const MANIFEST = '/console.webmanifest';
const NETWORK_TIMEOUT_MS = 4000;

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll([PAGE, MANIFEST, ...PRECACHE]))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith(PREFIX) && n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

async function networkFirst(request: Request, key: string): Promise<Response> {
  const cache = await caches.open(CACHE);
  try {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), NETWORK_TIMEOUT_MS);
    const response = await fetch(request, { signal: controller.signal }).finally(() => clearTimeout(timer));
    if (response.ok) await cache.put(key, response.clone());
    return response;
  } catch {
    return (await cache.match(key)) ?? Response.error();
  }
}

async function cacheFirst(request: Request): Promise<Response> {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(request);
  if (hit) return hit;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (url.pathname === PAGE || url.pathname.startsWith(PAGE + '/')) event.respondWith(networkFirst(request, PAGE));
  else if (url.pathname.startsWith('/assets/') || url.pathname === '/favicon.svg' || url.pathname === MANIFEST) event.respondWith(cacheFirst(request));
});

export {};
