/**
 * The web pages (built by Vite from web/ into web/dist, see web/README.md),
 * served by the same server as the API: `/` (the citizen portal), `/verify`
 * (the offline verifier), `/console` and `/console/…` (the staff console),
 * `/c/<token>` (the certificate page an SMS links to), their assets under
 * `/assets/` and the verifier's service worker.
 *
 * Pages are a few static files: an HTML shell is read once and served from
 * memory; assets have content hashes in their names and are cached for a
 * year, pre-compressed (brotli, gzip) at build time. Nothing is fetched from
 * a third party: the Content-Security-Policy allows only this origin (and
 * WebAssembly, for the QR decoder).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App, AppDeps } from '../deps.ts';

/** Where `npm run build` puts the pages. */
export const WEB_DIST = fileURLToPath(new URL('../../../web/dist/', import.meta.url));

/** The pages: URL → built HTML file. */
const PAGES = {
  verify: 'verify/index.html',
  certificate: 'certificate/index.html',
  portal: 'portal/index.html',
  console: 'console/index.html',
} as const;
type Page = keyof typeof PAGES;

/**
 * Only this origin. 'wasm-unsafe-eval' lets the verifier compile the ZBar QR
 * decoder (WebAssembly) and nothing else; images from data:/blob: are the
 * camera frames and uploaded pictures, which never leave the browser.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "worker-src 'self'",
  "manifest-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

interface Loaded {
  body: Buffer;
  etag: string;
  mtimeMs: number;
}

/** Reads a built file once, and again only when the build replaced it. */
function fileCache(dist: string) {
  const files = new Map<string, Loaded>();
  return (name: string): Loaded | undefined => {
    const path = join(dist, name);
    let mtimeMs: number;
    try {
      mtimeMs = statSync(path).mtimeMs;
    } catch {
      return undefined;
    }
    const known = files.get(name);
    if (known && known.mtimeMs === mtimeMs) return known;
    const body = readFileSync(path);
    const loaded = { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`, mtimeMs };
    files.set(name, loaded);
    return loaded;
  };
}

const NOT_BUILT = Buffer.from(
  `<!doctype html><html lang="id"><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Dosis</title><body style="font-family:system-ui,sans-serif;margin:2rem;max-width:36rem">
<h1>Halaman belum dibuat</h1><p>Jalankan <code>npm run build</code> (atau <code>npm start</code>, yang membuatnya otomatis).</p>
<h2 lang="en">Pages not built</h2><p lang="en">Run <code>npm run build</code> (or <code>npm start</code>, which builds them).</p></body></html>`,
);

function sendFile(req: FastifyRequest, reply: FastifyReply, file: Loaded, type: string): FastifyReply {
  void reply.header('etag', file.etag).header('content-type', type).header('x-content-type-options', 'nosniff');
  if (req.headers['if-none-match'] === file.etag) return reply.status(304).send();
  return reply.send(file.body);
}

export function pageRoutes(app: App, _deps: AppDeps, opts: { dist?: string } = {}): void {
  const dist = opts.dist ?? WEB_DIST;
  const read = fileCache(dist);

  const page = (name: Page, extra: Record<string, string> = {}) =>
    async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
      void reply
        .header('content-security-policy', CSP)
        .header('x-frame-options', 'DENY')
        .header('referrer-policy', 'no-referrer')
        .header('cache-control', 'no-cache')
        .headers(extra);
      const file = read(PAGES[name]);
      if (!file) return reply.status(503).header('content-type', 'text/html; charset=utf-8').send(NOT_BUILT);
      return sendFile(req, reply, file, 'text/html; charset=utf-8');
    };

  const hide = { schema: { hide: true } };
  app.get('/verify', hide, page('verify', { 'permissions-policy': 'camera=(self), microphone=()' }));
  app.get('/verify/', hide, async (_req, reply) => reply.redirect('/verify', 301));
  // The token is a credential: the page never sends it on (no-referrer), and no robot indexes it.
  app.get('/c/:token', hide, page('certificate', { 'x-robots-tag': 'noindex', 'permissions-policy': 'camera=(), microphone=()' }));
  // The site's front door is the citizen portal (NIK + birth date → a code by SMS → the certificates).
  app.get('/', hide, page('portal', { 'permissions-policy': 'camera=(), microphone=()' }));
  app.get('/portal', hide, async (_req, reply) => reply.redirect('/', 301));
  // The staff console: one HTML for every console URL (the page routes itself).
  const consolePage = page('console', { 'permissions-policy': 'camera=(), microphone=()', 'x-robots-tag': 'noindex' });
  app.get('/console', hide, consolePage);
  app.get('/console/*', hide, consolePage);

  /** A built file at the site's root, served from memory. */
  const builtFile = (name: string, type: string, headers: Record<string, string>) =>
    async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
      const file = read(name);
      if (!file) {
        reply.callNotFound();
        return reply;
      }
      void reply.headers(headers);
      return sendFile(req, reply, file, type);
    };
  // Service workers: never cached by HTTP, so a new build takes over at the next visit.
  const js = 'text/javascript; charset=utf-8';
  app.get('/sw-verify.js', hide, builtFile('sw-verify.js', js, { 'cache-control': 'no-cache', 'service-worker-allowed': '/verify' }));
  app.get('/sw-console.js', hide, builtFile('sw-console.js', js, { 'cache-control': 'no-cache', 'service-worker-allowed': '/console' }));
  app.get('/console.webmanifest', hide, builtFile('console.webmanifest', 'application/manifest+json', { 'cache-control': 'no-cache' }));
  app.get('/favicon.svg', hide, builtFile('favicon.svg', 'image/svg+xml', { 'cache-control': 'public, max-age=86400' }));

  void app.register(fastifyStatic, {
    root: join(dist, 'assets'),
    prefix: '/assets/',
    preCompressed: true,
    index: false,
    wildcard: true,
    immutable: true,
    maxAge: '365d',
    setHeaders: (reply) => void reply.header('x-content-type-options', 'nosniff'),
  });
}

/** True when the pages are built (web/dist has the verifier). */
export function pagesBuilt(dist = WEB_DIST): boolean {
  return existsSync(join(dist, PAGES.verify));
}
