/**
 * The staff console, `/console`: sign-in, then the pages the user's role may
 * see (this folder's own and the operator pages of `operator/`), with the
 * navigation, the language switch, the signed-in user and facility, and
 * sign-out. Routing is client-side over the `ConsolePage` contract
 * (pages.ts): links to `/console/…` change the page without a reload.
 *
 * Offline: the service worker (/sw-console.js) keeps the console's files;
 * when the session cannot be checked for want of network, the last signed-in
 * user of this device is assumed (kept in localStorage: name, role and
 * facility, no secret) so that doses can still be entered and kept on the
 * device; the server checks the session when they are sent.
 */
import { formatRegionCode } from '../../src/domain/regions.ts';
import '../lib/styles.css';
import { render } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { LangSwitch, Logo, Notice } from '../lib/ui.tsx';
import { useLang, useOnline, useTexts } from '../lib/lang.ts';
import { api, ApiError, onUnauthorized, type ConsoleUser } from './api.ts';
import type { ConsolePage, PageComponent, PageProps } from './pages.ts';
import { loadPage, matchPath, resolve } from './router.ts';
import { operatorPages } from './operator/index.ts';
import { ownPages } from './own-pages.tsx';
import { startAutoSync, watchCounts, type QueueCounts } from './queue.ts';
import { SHELL_TEXTS } from './texts.ts';

const USER_KEY = 'dosis.console.user';

function rememberUser(user: ConsoleUser | null): void {
  try {
    if (user) localStorage.setItem(USER_KEY, JSON.stringify(user));
    else localStorage.removeItem(USER_KEY);
  } catch {
    // Private mode: offline start-up will ask to sign in.
  }
}

function rememberedUser(): ConsoleUser | null {
  try {
    const raw = localStorage.getItem(USER_KEY);
    return raw ? (JSON.parse(raw) as ConsoleUser) : null;
  } catch {
    return null;
  }
}

type Auth = { kind: 'loading' } | { kind: 'signed-out'; reason?: 'expired' | 'offline' } | { kind: 'signed-in'; user: ConsoleUser; unverified: boolean };

const PAGES: readonly ConsolePage[] = [...ownPages, ...operatorPages];

// A link straight to a page: fetch its code while the session is being checked (not for the start page,
// the sign-in form's own address, whose visitors may not be signed in).
const opening = location.pathname.replace(/\/+$/, '');
const first = opening === '/console' ? undefined : PAGES.find((p) => matchPath(p.path, opening));
if (first) loadPage(first).catch(() => undefined);

/** A page, once its code has arrived; a plain "loading" line until then, and a way to try again when it cannot come. */
function PageView(props: { page: ConsolePage; pageProps: PageProps }) {
  const t = useTexts(SHELL_TEXTS);
  const [state, setState] = useState<{ page: ConsolePage; component?: PageComponent; failed?: boolean }>({ page: props.page });
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    let live = true;
    loadPage(props.page).then(
      (component) => live && setState({ page: props.page, component }),
      () => live && setState({ page: props.page, failed: true }),
    );
    return () => {
      live = false;
    };
  }, [props.page, attempt]);
  if (state.page === props.page && state.component) {
    const Page = state.component;
    return <Page {...props.pageProps} />;
  }
  if (state.page === props.page && state.failed)
    return (
      <Notice kind="error" role="alert">
        <span data-testid="page-load-failed">{t('page.failed')}</span>{' '}
        <button
          type="button"
          class="button secondary small"
          onClick={() => {
            setState({ page: props.page });
            setAttempt(attempt + 1);
          }}
        >
          {t('page.retry')}
        </button>
      </Notice>
    );
  return (
    <p class="hint" aria-busy="true" data-testid="page-loading">
      {t('page.loading')}
    </p>
  );
}

function SignIn(props: { reason?: 'expired' | 'offline'; onSignedIn: (u: ConsoleUser) => void }) {
  const t = useTexts(SHELL_TEXTS);
  const online = useOnline();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setError(null);
    if (!username.trim() || !password) {
      setError(t('signIn.missing'));
      return;
    }
    setBusy(true);
    try {
      const r = await api<{ user: ConsoleUser }>('POST', '/api/v1/session', { username: username.trim(), password });
      setPassword('');
      props.onSignedIn(r.user);
    } catch (err) {
      setError(err instanceof ApiError && err.status === 0 ? t('signIn.offline') : err instanceof ApiError && (err.status === 401 || err.status === 429) ? err.message : t('signIn.failed'));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="page console-signin">
      <header class="topbar">
        <div class="topbar-inner">
          <span class="brand">
            <Logo />
            <span class="brand-text">
              <strong>Dosis</strong>
              <small>{t('app.console')}</small>
            </span>
          </span>
          <LangSwitch />
        </div>
      </header>
      <main id="main" class="main signin-main">
        <form class="card signin-card" onSubmit={(e) => void submit(e)} noValidate aria-labelledby="signin-title">
          <h1 id="signin-title">{t('signIn.title')}</h1>
          <p class="lead">{t('signIn.intro')}</p>
          {props.reason === 'expired' && <Notice kind="info">{t('signIn.expired')}</Notice>}
          {(!online || props.reason === 'offline') && <Notice kind="warn">{t('signIn.offline')}</Notice>}
          <label class="field" for="username">
            <span class="label">{t('signIn.username')}</span>
            <input id="username" name="username" autoComplete="username" autoCapitalize="none" spellcheck={false} value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
          </label>
          <label class="field" for="password">
            <span class="label">{t('signIn.password')}</span>
            <input id="password" name="password" type="password" autoComplete="current-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
          </label>
          {error && (
            <Notice kind="error" role="alert">
              <span data-testid="signin-error">{error}</span>
            </Notice>
          )}
          <button type="submit" class="button block" disabled={busy}>
            {busy ? t('signIn.busy') : t('signIn.submit')}
          </button>
        </form>
      </main>
    </div>
  );
}

function scopeLabel(user: ConsoleUser, t: (k: 'scope.national' | 'scope.region', v?: Record<string, string>) => string): string {
  if (user.facilityCode) return user.facilityCode;
  if (user.regionCode) return t('scope.region', { code: formatRegionCode(user.regionCode) });
  return t('scope.national');
}

function usePath(): [URL, (to: string) => void] {
  const [url, setUrl] = useState(() => new URL(location.href));
  useEffect(() => {
    const pop = (): void => setUrl(new URL(location.href));
    addEventListener('popstate', pop);
    return () => removeEventListener('popstate', pop);
  }, []);
  const navigate = (to: string): void => {
    const next = new URL(to, location.href);
    if (next.href !== location.href) history.pushState(null, '', next.pathname + next.search + next.hash);
    setUrl(next);
    scrollTo(0, 0);
    document.getElementById('main')?.focus();
  };
  // Same-origin links into the console change the page without a reload.
  useEffect(() => {
    const click = (e: MouseEvent): void => {
      if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      const a = (e.target as Element | null)?.closest?.('a');
      if (!a || a.target || a.hasAttribute('download')) return;
      const href = new URL(a.href, location.href);
      if (href.origin !== location.origin || !(href.pathname === '/console' || href.pathname.startsWith('/console/'))) return;
      e.preventDefault();
      navigate(href.pathname + href.search + href.hash);
    };
    document.addEventListener('click', click);
    return () => document.removeEventListener('click', click);
  }, []);
  return [url, navigate];
}

function Console(props: { user: ConsoleUser; unverified: boolean; onSignOut: () => void }) {
  const t = useTexts(SHELL_TEXTS);
  const online = useOnline();
  const [url, navigate] = usePath();
  const [counts, setCounts] = useState<QueueCounts>({ waiting: 0, rejected: 0, sent: 0 });
  const [menuOpen, setMenuOpen] = useState(false);
  const { user } = props;
  useEffect(() => watchCounts(setCounts), []);
  useEffect(() => startAutoSync(user.id), [user.id]);
  const { lang } = useLang();
  const nav = useMemo(() => PAGES.filter((p) => p.nav && p.roles.includes(user.role)), [user.role]);
  const resolved = resolve(PAGES, url.pathname, user.role);
  useEffect(() => {
    const title = resolved.kind === 'page' && resolved.page.nav ? resolved.page.nav[lang] : t('app.console');
    document.title = `${title} — Dosis`;
    setMenuOpen(false);
  }, [url.pathname, lang]);

  const pending = counts.waiting + counts.rejected;
  return (
    <div class="page console-page">
      <a class="skip" href="#main">
        {t('skip')}
      </a>
      <header class="topbar console-topbar">
        <div class="topbar-inner">
          <a class="brand" href="/console">
            <Logo />
            <span class="brand-text">
              <strong>Dosis</strong>
              <small>{t('app.console')}</small>
            </span>
          </a>
          <div class="topbar-tools">
            <LangSwitch />
            <button type="button" class="menu-button" aria-expanded={menuOpen} aria-controls="console-nav" onClick={() => setMenuOpen(!menuOpen)}>
              <span aria-hidden="true">☰</span>
              <span class="visually-hidden">{t('nav.menu')}</span>
            </button>
          </div>
        </div>
      </header>
      <div class="console-user" data-testid="console-user">
        <div class="console-user-inner">
          <span class="who">
            <strong data-testid="user-name">{user.displayName}</strong>
            <span class="scope" data-testid="user-scope">
              {t(`role.${user.role}`)} · {scopeLabel(user, t)}
            </span>
          </span>
          {pending > 0 && (
            <a class="pending-chip" href="/console/pending" data-testid="pending-count" aria-label={t('pending.aria', { n: pending })}>
              {t('pending.chip', { n: pending })}
            </a>
          )}
          <button type="button" class="link-button" onClick={props.onSignOut} data-testid="sign-out">
            {t('signOut')}
          </button>
        </div>
      </div>
      {!online && (
        <div class="offline-bar" role="status" data-testid="offline-bar">
          {t('offline')}
        </div>
      )}
      {online && props.unverified && (
        <div class="offline-bar" role="status" data-testid="unverified-bar">
          {t('unverified')}
        </div>
      )}
      <div class="console-body">
        <nav id="console-nav" class={`console-nav ${menuOpen ? 'open' : ''}`} aria-label={t('nav.label')}>
          <ul>
            {nav.map((p) => {
              const current = p.path === '/console' ? url.pathname === '/console' : url.pathname === p.path || url.pathname.startsWith(p.path + '/');
              return (
                <li key={p.path}>
                  <a href={p.path} aria-current={current ? 'page' : undefined}>
                    {p.nav![lang]}
                    {p.path === '/console/pending' && pending > 0 && <span class="count">{pending}</span>}
                  </a>
                </li>
              );
            })}
          </ul>
        </nav>
        <main id="main" class="main console-main" tabIndex={-1}>
          {resolved.kind === 'page' ? (
            <PageView page={resolved.page} pageProps={{ user, params: resolved.params, query: url.searchParams, navigate }} />
          ) : (
            <>
              <h1>{resolved.kind === 'forbidden' ? t('forbidden.title') : t('notFound.title')}</h1>
              <Notice kind="info">{resolved.kind === 'forbidden' ? t('forbidden.text') : t('notFound.text')}</Notice>
              <p>
                <a class="button secondary" href="/console">
                  {t('home')}
                </a>
              </p>
            </>
          )}
        </main>
      </div>
    </div>
  );
}

function App() {
  const [auth, setAuth] = useState<Auth>({ kind: 'loading' });
  const check = (): void => {
    api<{ user: ConsoleUser }>('GET', '/api/v1/session')
      .then((r) => {
        rememberUser(r.user);
        setAuth({ kind: 'signed-in', user: r.user, unverified: false });
      })
      .catch((e: unknown) => {
        const cached = rememberedUser();
        const offline = e instanceof ApiError && e.status === 0;
        if (offline && cached) setAuth({ kind: 'signed-in', user: cached, unverified: true });
        // Someone signed in on this device before: their session has ended (entries they left wait for them).
        else setAuth({ kind: 'signed-out', ...(offline ? { reason: 'offline' as const } : cached ? { reason: 'expired' as const } : {}) });
      });
  };
  useEffect(check, []);
  // Started offline: check the session as soon as the network is back.
  const unverified = auth.kind === 'signed-in' && auth.unverified;
  useEffect(() => {
    if (!unverified) return;
    addEventListener('online', check);
    return () => removeEventListener('online', check);
  }, [unverified]);
  // A 401 from any page: the session ended (idle, signed out elsewhere, disabled). Entries on the device stay.
  useEffect(() => onUnauthorized(() => setAuth((a) => (a.kind === 'signed-in' ? { kind: 'signed-out', reason: 'expired' } : a))), []);

  if (auth.kind === 'loading') return <div class="page console-loading" aria-busy="true" />;
  if (auth.kind === 'signed-out')
    return (
      <SignIn
        {...(auth.reason ? { reason: auth.reason } : {})}
        onSignedIn={(user) => {
          rememberUser(user);
          setAuth({ kind: 'signed-in', user, unverified: false });
        }}
      />
    );
  const signOut = async (): Promise<void> => {
    try {
      await api('DELETE', '/api/v1/session');
    } catch {
      // Offline: the cookie stays until it expires, but this device forgets the user.
    }
    rememberUser(null);
    setAuth({ kind: 'signed-out' });
  };
  return <Console user={auth.user} unverified={auth.unverified} onSignOut={() => void signOut()} />;
}

render(<App />, document.getElementById('app')!);

if ('serviceWorker' in navigator) {
  // The console's files for offline use (scope /console); a failure only means no offline start.
  // Registered once the page has loaded, so that keeping the files does not slow the first page on a slow line.
  const register = (): void => void navigator.serviceWorker.register('/sw-console.js', { scope: '/console' }).catch(() => undefined);
  if (document.readyState === 'complete') register();
  else addEventListener('load', register, { once: true });
}
