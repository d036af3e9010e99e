/**
 * The console's client-side routing over the `ConsolePage` contract: path
 * patterns with `:name` parts, matched against `location.pathname`; only
 * pages the user's role may see are candidates.
 */
import type { ConsolePage, PageComponent } from './pages.ts';
import type { Role } from './api.ts';

/** The `:name` values when `pathname` fits `pattern`, else null. */
export function matchPath(pattern: string, pathname: string): Record<string, string> | null {
  const want = pattern.replace(/\/+$/, '').split('/');
  const got = pathname.replace(/\/+$/, '').split('/');
  if (want.length !== got.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i] as string;
    const g = got[i] as string;
    if (w.startsWith(':')) {
      if (!g) return null;
      try {
        params[w.slice(1)] = decodeURIComponent(g);
      } catch {
        return null;
      }
    } else if (w !== g) return null;
  }
  return params;
}

export type Resolved = { kind: 'page'; page: ConsolePage; params: Record<string, string> } | { kind: 'forbidden' } | { kind: 'not_found' };

/** The page for `pathname`: the first whose pattern fits; `forbidden` when it fits only pages of other roles. */
export function resolve(pages: readonly ConsolePage[], pathname: string, role: Role): Resolved {
  let forbidden = false;
  for (const page of pages) {
    const params = matchPath(page.path, pathname);
    if (!params) continue;
    if (page.roles.includes(role)) return { kind: 'page', page, params };
    forbidden = true;
  }
  return forbidden ? { kind: 'forbidden' } : { kind: 'not_found' };
}

const loading = new WeakMap<ConsolePage, Promise<PageComponent>>();

/**
 * The page's component, its chunk fetched once (later calls share the first
 * fetch). A failed fetch (offline before the page was ever cached, or a new
 * build that replaced the chunk) is forgotten so that the next call tries again.
 */
export function loadPage(page: ConsolePage): Promise<PageComponent> {
  let p = loading.get(page);
  if (!p) {
    p = page.load();
    loading.set(page, p);
    p.catch(() => loading.delete(page));
  }
  return p;
}
