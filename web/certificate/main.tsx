/**
 * The certificate page, /c/<token>: what the SMS link opens. The person's
 * certificates, one per dose, each with its QR code (drawn here from the HC1
 * text), what it says, and its PDF; the next dose due. The data comes from
 * `GET /api/v1/public/links/{token}`; the token never leaves this page
 * (no Referer is sent, the answer is not cached).
 */
import '../lib/styles.css';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { useLang } from '../lib/lang.ts';
import { Notice, Shell } from '../lib/ui.tsx';
import { Certificates, type HolderAnswer } from '../lib/certificates.tsx';

type State = { kind: 'loading' } | { kind: 'not-found' } | { kind: 'failed' } | { kind: 'ready'; data: HolderAnswer };

const token = decodeURIComponent(location.pathname.replace(/^\/c\//, '').split('/')[0] ?? '');

async function load(): Promise<State> {
  try {
    const r = await fetch(`/api/v1/public/links/${encodeURIComponent(token)}`, { cache: 'no-store', headers: { accept: 'application/json' } });
    if (r.status === 404 || r.status === 400) return { kind: 'not-found' };
    if (!r.ok) return { kind: 'failed' };
    return { kind: 'ready', data: (await r.json()) as HolderAnswer };
  } catch {
    return { kind: 'failed' };
  }
}

function App() {
  const { lang, t } = useLang();
  const [state, setState] = useState<State>({ kind: 'loading' });
  const reload = (): void => {
    setState({ kind: 'loading' });
    void load().then(setState);
  };
  useEffect(reload, []);
  useEffect(() => {
    document.title = `${t('cert.title')} — Dosis`;
  }, [lang]);

  return (
    <Shell title={t('cert.title')}>
      {state.kind === 'loading' && (
        <div role="status">
          <div class="spinner" aria-hidden="true" />
          <p class="hint center">
            {t('cert.loading')}
          </p>
        </div>
      )}
      {state.kind === 'not-found' && (
        <Notice kind="error">
          <strong>{t('cert.notFound')}</strong> {t('cert.notFoundHint')}
        </Notice>
      )}
      {state.kind === 'failed' && (
        <>
          <Notice kind="error">{t('cert.loadFailed')}</Notice>
          <button type="button" class="button" onClick={reload}>
            {t('cert.retry')}
          </button>
        </>
      )}
      {state.kind === 'ready' && <Certificates data={state.data} lang={lang} t={t} />}
    </Shell>
  );
}

render(<App />, document.getElementById('app')!);
