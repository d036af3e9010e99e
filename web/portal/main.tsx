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

type IdType = 'nik' | 'passport' | 'mother-nik';
type LookupField = 'nik' | 'passport' | 'country' | 'motherNik' | 'childName' | 'birthDate';

/** Which input a problem the server named belongs to. */
const SERVER_FIELDS: Record<string, LookupField> = {
  nik: 'nik',
  birthDate: 'birthDate',
  name: 'childName',
  identifier: 'nik',
  'identifier.country': 'country',
};

const ERROR_TEXT: Record<LookupField, TextKey> = {
  nik: 'portal.nikInvalid',
  passport: 'portal.passportInvalid',
  country: 'portal.countryInvalid',
  motherNik: 'portal.motherNikInvalid',
  childName: 'portal.childNameInvalid',
  birthDate: 'portal.birthDateInvalid',
};

/**
 * NIK + birth date; or, for someone without a NIK, a passport (number and
 * country) or, for a child, the mother's NIK with the child's full name and
 * birth date. Each problem is named at its input, found here or by the server.
 */
function LookupForm(props: { onSent: (requestId: string, phoneHint: string) => void }) {
  const { t } = useLang();
  const [idType, setIdType] = useState<IdType>('nik');
  const [v, setV] = useState<Record<LookupField, string>>({ nik: '', passport: '', country: '', motherNik: '', childName: '', birthDate: '' });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<TextKey | null>(null);
  const [fields, setFields] = useState<Partial<Record<LookupField, boolean>>>({});
  const set = (f: LookupField) => (value: string) => setV((old) => ({ ...old, [f]: value }));
  const digits = (s: string) => s.replace(/[\s.-]/g, '');

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const bad: Partial<Record<LookupField, boolean>> = { birthDate: !/^\d{4}-\d{2}-\d{2}$/.test(v.birthDate) };
    let body: Record<string, unknown>;
    if (idType === 'nik') {
      bad.nik = !/^\d{16}$/.test(digits(v.nik));
      body = { nik: digits(v.nik), birthDate: v.birthDate };
    } else if (idType === 'passport') {
      bad.passport = !/^[A-Za-z0-9]{5,20}$/.test(v.passport.trim());
      bad.country = !/^[A-Za-z]{2,3}$/.test(v.country.trim());
      body = { identifier: { type: 'passport', value: v.passport.trim(), country: v.country.trim().toUpperCase() }, birthDate: v.birthDate };
    } else {
      bad.motherNik = !/^\d{16}$/.test(digits(v.motherNik));
      bad.childName = v.childName.trim().length < 2;
      body = { identifier: { type: 'mother-nik', value: digits(v.motherNik) }, name: v.childName.trim(), birthDate: v.birthDate };
    }
    setFields(bad);
    setError(null);
    if (Object.values(bad).some(Boolean)) return;
    setBusy(true);
    try {
      const r = await fetch('/api/v1/public/lookup', { method: 'POST', headers: json, body: JSON.stringify(body) });
      if (r.status === 202) {
        const answer = (await r.json()) as { requestId: string; phoneHint: string };
        props.onSent(answer.requestId, answer.phoneHint);
        return;
      }
      if (r.status === 422 || r.status === 400) {
        const problem = (await r.json().catch(() => null)) as { error?: { fields?: { path: string }[] } } | null;
        const named: Partial<Record<LookupField, boolean>> = {};
        for (const f of problem?.error?.fields ?? []) {
          const field = f.path === 'identifier.value' ? (idType === 'passport' ? 'passport' : 'motherNik') : SERVER_FIELDS[f.path];
          if (field) named[field] = true;
        }
        if (Object.keys(named).length > 0) {
          setFields(named);
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

  const err = (f: LookupField) => (fields[f] ? t(ERROR_TEXT[f]) : undefined);
  return (
    <form class="card" onSubmit={(e) => void submit(e)} noValidate aria-describedby="portal-intro">
      <p id="portal-intro" class="lead">
        {t('portal.intro')}
      </p>
      <label class="field" for="id-type">
        <span class="label">{t('portal.idType')}</span>
        <select
          id="id-type"
          name="idType"
          value={idType}
          onChange={(e) => {
            setIdType(e.currentTarget.value as IdType);
            setFields({});
          }}
        >
          <option value="nik">{t('portal.idNik')}</option>
          <option value="passport">{t('portal.idPassport')}</option>
          <option value="mother-nik">{t('portal.idMother')}</option>
        </select>
      </label>
      {idType === 'nik' && (
        <TextField id="nik" name="nik" label={t('portal.nik')} hint={t('portal.nikHint')} error={err('nik')} value={v.nik} onInput={set('nik')} inputMode="numeric" maxLength={24} />
      )}
      {idType === 'passport' && (
        <>
          <TextField id="passport" name="passport" label={t('portal.passport')} error={err('passport')} value={v.passport} onInput={set('passport')} maxLength={24} />
          <TextField id="country" name="country" label={t('portal.country')} hint={t('portal.countryHint')} error={err('country')} value={v.country} onInput={set('country')} maxLength={3} />
        </>
      )}
      {idType === 'mother-nik' && (
        <>
          <TextField id="mother-nik" name="mother-nik" label={t('portal.motherNik')} error={err('motherNik')} value={v.motherNik} onInput={set('motherNik')} inputMode="numeric" maxLength={24} />
          <TextField id="child-name" name="child-name" label={t('portal.childName')} error={err('childName')} value={v.childName} onInput={set('childName')} maxLength={120} />
        </>
      )}
      <TextField
        id="birth-date"
        name="birthDate"
        type="date"
        label={t(idType === 'mother-nik' ? 'portal.childBirthDate' : 'portal.birthDate')}
        autoComplete={idType === 'mother-nik' ? 'off' : 'bday'}
        error={err('birthDate')}
        value={v.birthDate}
        onInput={set('birthDate')}
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
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setError(null);
    const c = code.replace(/\D/g, '');
    if (!/^\d{4,8}$/.test(c)) {
      setError('portal.codeInvalid');
      return;
    }
    setBusy(true);
    try {
      const r = await fetch(`/api/v1/public/lookup/${encodeURIComponent(props.requestId)}/verify`, { method: 'POST', headers: json, body: JSON.stringify({ code: c }) });
      if (!r.ok) {
        setError(r.status === 422 || r.status === 400 ? 'portal.codeInvalid' : r.status === 429 ? 'portal.rateLimited' : 'portal.failed');
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
          aria-invalid={error === 'portal.codeInvalid' ? 'true' : 'false'}
          onInput={(e) => setCode(e.currentTarget.value)}
        />
      </label>
      {error && <Notice kind="error">{t(error)}</Notice>}
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
          <Certificates data={step.data} lang={lang} t={t} privacy="portal.privacy" />
          <MissingDose accessToken={step.accessToken} />
          <button type="button" class="button secondary block" onClick={() => setStep({ kind: 'start' })}>
            {t('portal.signOut')}
          </button>
        </>
      )}
    </Shell>
  );
}

render(<App />, document.getElementById('app')!);
