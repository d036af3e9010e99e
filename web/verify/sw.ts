/**
 * The verifier's service worker (/sw-verify.js, scope /verify): after the
 * first visit the page, its code and the QR decoder come from the cache, so
 * the verifier opens and works with no network at all.
 *
 * - The page (/verify): network first, the cached copy when offline.
 * - Built assets (/assets/…, hashed names, never change): cache first.
 * - Trust list, revocation list and its keys: network first, cached copy
 *   offline (the page also keeps them in localStorage).
 * The list of files to keep is written into this file at build time
 * (scripts/vite-config.ts), with a version: a new build replaces the cache.
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

const PREFIX = 'dosis-verify-';
const CACHE = PREFIX + VERSION;
const PAGE = '/verify';
const NETWORK_TIMEOUT_MS = 5000;
/** What the page keeps up to date: the trust list, the signed revocation list and the keys that sign it. */
const LISTS = new Set(['/api/v1/trust-list', '/api/v1/revocation-list', '/.well-known/jwks.json']);

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll([PAGE, ...PRECACHE]))
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
  if (url.pathname === PAGE) event.respondWith(networkFirst(request, PAGE));
  else if (url.pathname.startsWith('/assets/') || url.pathname === '/favicon.svg') event.respondWith(cacheFirst(request));
  else if (LISTS.has(url.pathname)) event.respondWith(networkFirst(request, url.pathname));
});

export {};
