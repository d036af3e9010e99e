/**
 * The Vite configuration of the web pages (web/ → web/dist). Used by
 * scripts/build-web.ts (`npm run build`, and `npm start` / the browser tests
 * when the build is missing or stale), and by `npx vite --config
 * scripts/vite-config.ts` for a development server that sends /api to a
 * running `npm start`.
 *
 * Multi-page: one HTML entry per page, plus the verifier's service worker,
 * which is built to a fixed name (/sw-verify.js) with the list of built files
 * it keeps for offline use written into it.
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

export const WEB_ROOT = fileURLToPath(new URL('../web/', import.meta.url));
export const WEB_DIST = fileURLToPath(new URL('../web/dist/', import.meta.url));

/** The pages: entry name → HTML file (URL paths are mapped in src/http/routes/pages.ts). */
export const PAGE_ENTRIES: Record<string, string> = {
  verify: `${WEB_ROOT}verify/index.html`,
  certificate: `${WEB_ROOT}certificate/index.html`,
  portal: `${WEB_ROOT}portal/index.html`,
  console: `${WEB_ROOT}console/index.html`,
};

const SERVICE_WORKERS: Record<string, string> = {
  'sw-verify': `${WEB_ROOT}verify/sw.ts`,
  'sw-console': `${WEB_ROOT}console/sw.ts`,
};

/**
 * Writes into each service worker the files it precaches (everything built
 * except HTML files and the workers themselves; pages are cached under their
 * URL) and a version that changes with them.
 */
function serviceWorkerManifest(): Plugin {
  return {
    name: 'dosis-service-worker-manifest',
    apply: 'build',
    generateBundle(_options, bundle) {
      const workers = new Set(Object.keys(SERVICE_WORKERS).map((name) => `${name}.js`));
      const files = Object.keys(bundle)
        .filter((f) => !f.endsWith('.html') && !workers.has(f) && !f.endsWith('.map'))
        .sort()
        .map((f) => `/${f}`);
      const list = [...files, '/favicon.svg'];
      const version = createHash('sha256').update(list.join('\n')).digest('hex').slice(0, 12);
      for (const name of workers) {
        const chunk = bundle[name];
        if (!chunk || chunk.type !== 'chunk') throw new Error(`service worker ${name} missing from the build`);
        const before = chunk.code;
        chunk.code = chunk.code
          .replace(/(["'`])__DOSIS_PRECACHE_LIST__\1/g, JSON.stringify(list))
          .replace(/__DOSIS_BUILD_VERSION__/g, version);
        if (chunk.code === before || /__DOSIS_/.test(chunk.code)) throw new Error(`service worker ${name}: placeholders not replaced`);
        if (/^\s*(import|export)\b/m.test(chunk.code)) throw new Error(`service worker ${name} must not import or export (it runs as a classic script)`);
      }
    },
  };
}

export default defineConfig({
  root: WEB_ROOT,
  base: '/',
  publicDir: `${WEB_ROOT}public`,
  appType: 'mpa',
  logLevel: 'warn',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  resolve: {
    // See web/lib/revocation-list-types.d.ts.
    alias: [
      { find: '#revocation-list-web', replacement: fileURLToPath(new URL('../src/certificates/revocation-list-web.ts', import.meta.url)) },
      // src/domain/nik.ts in the browser: the package's loader reads files with node:fs (see web/lib/idn-area-data.ts).
      { find: /^idn-area-data$/, replacement: `${WEB_ROOT}lib/idn-area-data.ts` },
    ],
  },
  build: {
    outDir: WEB_DIST,
    emptyOutDir: true,
    target: 'es2022',
    // No inline scripts: the Content-Security-Policy allows scripts from this origin only.
    modulePreload: { polyfill: false },
    // Nothing inlined as data: URLs (the QR decoder's WebAssembly stays a cacheable file).
    assetsInlineLimit: 0,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 1024,
    rollupOptions: {
      input: { ...PAGE_ENTRIES, ...SERVICE_WORKERS },
      output: {
        entryFileNames: (chunk) => (chunk.name in SERVICE_WORKERS ? '[name].js' : 'assets/[name]-[hash].js'),
      },
    },
  },
  plugins: [serviceWorkerManifest()],
  server: { proxy: { '/api': 'http://127.0.0.1:3000' } },
});
