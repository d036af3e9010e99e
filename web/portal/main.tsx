/**
 * The citizen portal, `/`: NIK (or a passport, or a mother's NIK with the
 * child's name) + birth date → `POST /api/v1/public/lookup`
 * (a one-time code goes by SMS to the phone on record; the answer names only
 * a masked number, the same whether or not anyone matches) → the code →
 * `POST /api/v1/public/lookup/{requestId}/verify` → a 30-minute access token
 * → `GET /api/v1/public/certificates`, drawn by the same component as the
 * SMS link's page. The access token lives in this page's memory only (a
 * reload starts again); the PDF links carry it as `?access=`.
 */
import '../lib/styles.css';
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { useLang } from '../lib/lang.ts';
import type { TextKey } from '../lib/i18n.ts';
import { Notice, Shell, TextField } from '../lib/ui.tsx';
import { Certificates, type HolderAnswer } from '../lib/certificates.tsx';
import { PhoneChange, PhoneChangeLink } from './phone-change.tsx';
import { MissingDose } from './missing-dose.tsx';
import { IdentityFields, NO_IDENTITY, identityBody, identityFieldOf, identityProblems, type IdField, type IdentityValues } from './identity.tsx';

type Step =
  | { kind: 'start' }
  | { kind: 'code'; requestId: string; phoneHint: string }
  | { kind: 'ready'; data: HolderAnswer; accessToken: string }
  | { kind: 'phone' };

const json = { 'content-type': 'application/json', accept: 'application/json' };

/** The holder view of the session, each certificate with its PDF address (authorised by the access token). */
async function loadCertificates(accessToken: string): Promise<HolderAnswer | 'expired' | 'failed'> {
  try {
    const r = await fetch('/api/v1/public/certificates', { cache: 'no-store', headers: { accept: 'application/json', authorization: `Bearer ${accessToken}` } });
    if (r.status === 401) return 'expired';
    if (!r.ok) return 'failed';
    const data = (await r.json()) as Omit<HolderAnswer, 'certificates'> & { certificates: Omit<HolderAnswer['certificates'][number], 'pdf'>[] };
    return {
      ...data,
      certificates: data.certificates.map((c) => ({ ...c, pdf: `/api/v1/public/certificates/${encodeURIComponent(c.id)}/pdf?access=${encodeURIComponent(accessToken)}` })),
    };
  } catch {
    return 'failed';
  }
}

/**
 * NIK + birth date; or, for someone without a NIK, a passport (number and
 * country) or, for a child, the mother's NIK with the child's full name and
 * birth date. Each problem is named at its input, found here or by the server.
 */
function LookupForm(props: { onSent: (requestId: string, phoneHint: string) => void }) {
  const { t } = useLang();
  const [who, setWho] = useState<IdentityValues>(NO_IDENTITY);
  const [childName, setChildName] = useState('');
  const [birthDate, setBirthDate] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<TextKey | null>(null);
  const [bad, setBad] = useState<Partial<Record<IdField | 'childName' | 'birthDate', boolean>>>({});
  const child = who.idType === 'mother-nik';

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const check = { ...identityProblems(who), birthDate: !/^\d{4}-\d{2}-\d{2}$/.test(birthDate), childName: child && childName.trim().length < 2 };
    setBad(check);
    setError(null);
    if (Object.values(check).some(Boolean)) return;
    setBusy(true);
    try {
      const body = { ...identityBody(who), ...(child ? { name: childName.trim() } : {}), birthDate };
      const r = await fetch('/api/v1/public/lookup', { method: 'POST', headers: json, body: JSON.stringify(body) });
      if (r.status === 202) {
        const answer = (await r.json()) as { requestId: string; phoneHint: string };
        props.onSent(answer.requestId, answer.phoneHint);
        return;
      }
      if (r.status === 422 || r.status === 400) {
        const problem = (await r.json().catch(() => null)) as { error?: { fields?: { path: string }[] } } | null;
        const named: typeof bad = {};
        for (const f of problem?.error?.fields ?? []) {
          const field = f.path === 'name' ? 'childName' : f.path === 'birthDate' ? 'birthDate' : identityFieldOf(f.path, who.idType);
          if (field) named[field] = true;
        }
        if (Object.keys(named).length > 0) {
          setBad(named);
          return;
        }
      }
      setError(r.status === 429 ? 'portal.rateLimited' : 'portal.failed');
    } catch {
      setError('portal.failed');
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="card" onSubmit={(e) => void submit(e)} noValidate aria-describedby="portal-intro">
      <p id="portal-intro" class="lead">
        {t('portal.intro')}
      </p>
      <IdentityFields
        prefix=""
        values={who}
        bad={bad}
        onChange={(v) => {
          if (v.idType !== who.idType) setBad({});
          setWho(v);
        }}
      />
      {child && (
        <TextField id="child-name" name="childName" label={t('portal.childName')} error={bad.childName ? t('portal.childNameInvalid') : undefined} value={childName} onInput={setChildName} maxLength={120} />
      )}
      <TextField
        id="birth-date"
        name="birthDate"
        type="date"
        label={t(child ? 'portal.childBirthDate' : 'portal.birthDate')}
        autoComplete={child ? 'off' : 'bday'}
        error={bad.birthDate ? t('portal.birthDateInvalid') : undefined}
        value={birthDate}
        onInput={setBirthDate}
      />
      {error && <Notice kind="error">{t(error)}</Notice>}
      <button type="submit" class="button block" disabled={busy}>
        {busy ? t('portal.sending') : t('portal.send')}
      </button>
    </form>
  );
}

function CodeForm(props: { requestId: string; phoneHint: string; onOpened: (data: HolderAnswer, accessToken: string) => void; onRestart: () => void }) {
  const { t } = useLang();
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<TextKey | null>(null);
  /** Tries left after a wrong code: the same code request still works. */
  const [remaining, setRemaining] = useState<number | null>(null);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setError(null);
    const c = code.replace(/\D/g, '');
    if (!/^\d{4,8}$/.test(c)) {
      setError('portal.codeFormat');
      return;
    }
    setBusy(true);
    try {
      const r = await fetch(`/api/v1/public/lookup/${encodeURIComponent(props.requestId)}/verify`, { method: 'POST', headers: json, body: JSON.stringify({ code: c }) });
      if (!r.ok) {
        const body = (await r.json().catch(() => null)) as { error?: { code?: string; detail?: { remainingTries?: number } } } | null;
        const left = body?.error?.code === 'code_wrong' ? body.error.detail?.remainingTries : undefined;
        if (typeof left === 'number') {
          // Wrong, but the code still works: try again here, no new lookup (which would spend one of the hour's lookups).
          setRemaining(left);
          setError('portal.codeWrong');
          setCode('');
          input.current?.focus();
          return;
        }
        setError(body?.error?.code === 'code_format' ? 'portal.codeFormat' : r.status === 422 || r.status === 400 ? 'portal.codeInvalid' : r.status === 429 ? 'portal.rateLimited' : 'portal.failed');
        return;
      }
      const { accessToken } = (await r.json()) as { accessToken: string };
      const data = await loadCertificates(accessToken);
      if (data === 'expired') setError('portal.sessionEnded');
      else if (data === 'failed') setError('portal.failed');
      else props.onOpened(data, accessToken);
    } catch {
      setError('portal.failed');
    } finally {
      setBusy(false);
    }
  };

  const [before, after] = t('portal.codeSent').split('{phone}');
  return (
    <form class="card" onSubmit={(e) => void submit(e)} noValidate>
      <div role="status" data-testid="code-sent">
        <p class="lead">
          {before}
          <span class="phone-hint" data-testid="phone-hint">
            {props.phoneHint}
          </span>
          {after}
        </p>
        <p class="hint">{t('portal.codeSentHint')}</p>
      </div>
      <label class="field" for="code">
        <span class="label">{t('portal.code')}</span>
        <input
          ref={input}
          id="code"
          name="code"
          class="code"
          inputMode="numeric"
          autoComplete="one-time-code"
          maxLength={8}
          value={code}
          aria-invalid={error === 'portal.codeInvalid' || error === 'portal.codeWrong' || error === 'portal.codeFormat' ? 'true' : 'false'}
          aria-describedby={error ? 'code-error' : undefined}
          onInput={(e) => setCode(e.currentTarget.value)}
        />
      </label>
      {error && (
        <div id="code-error" data-testid="code-error">
          <Notice kind="error">{t(error, { n: remaining ?? 0 })}</Notice>
        </div>
      )}
      <div class="stack">
        <button type="submit" class="button block" disabled={busy}>
          {busy ? t('portal.opening') : t('portal.open')}
        </button>
        <button type="button" class="button secondary block" onClick={props.onRestart}>
          {t('portal.restart')}
        </button>
      </div>
    </form>
  );
}

function App() {
  const { lang, t } = useLang();
  const [step, setStep] = useState<Step>({ kind: 'start' });
  const title = step.kind === 'ready' ? t('cert.title') : t('portal.title');
  useEffect(() => {
    document.title = `${title} — Dosis`;
  }, [title]);
  // A new step is announced by moving the focus to the page's heading region.
  useEffect(() => {
    if (step.kind !== 'code') document.getElementById('main')?.focus();
  }, [step.kind]);

  return (
    <Shell title={title} home="/">
      {step.kind === 'start' && (
        <>
          <LookupForm onSent={(requestId, phoneHint) => setStep({ kind: 'code', requestId, phoneHint })} />
          <PhoneChangeLink onOpen={() => setStep({ kind: 'phone' })} />
          <p class="hint center">
            <a href="/verify">{t('portal.verifyLink')}</a>
          </p>
        </>
      )}
      {step.kind === 'code' && (
        <CodeForm
          requestId={step.requestId}
          phoneHint={step.phoneHint}
          onOpened={(data, accessToken) => setStep({ kind: 'ready', data, accessToken })}
          onRestart={() => setStep({ kind: 'start' })}
        />
      )}
      {step.kind === 'code' && <PhoneChangeLink onOpen={() => setStep({ kind: 'phone' })} />}
      {step.kind === 'phone' && <PhoneChange onBack={() => setStep({ kind: 'start' })} />}
      {step.kind === 'ready' && (
        <>
          {/* First, not under the certificates: on a phone they are thousands of pixels long. */}
          <MissingDose accessToken={step.accessToken} />
          <Certificates data={step.data} lang={lang} t={t} privacy="portal.privacy" />
          <button type="button" class="button secondary block" onClick={() => setStep({ kind: 'start' })}>
            {t('portal.signOut')}
          </button>
        </>
      )}
    </Shell>
  );
}

render(<App />, document.getElementById('app')!);
