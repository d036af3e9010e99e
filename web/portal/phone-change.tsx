/**
 * Wrong or lost phone, in the portal: NIK, birth date, full name, the new
 * number and a note → `POST /api/v1/public/phone-corrections` (a one-time
 * code goes by SMS to the NEW number) → the code →
 * `POST /api/v1/public/phone-corrections/{requestId}/verify` → "sent; you will
 * get an SMS when it is decided". Support decides; until then nothing about
 * the person goes to the new number (src/access/phone-corrections.ts).
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { useTexts } from '../lib/lang.ts';
import { Notice, TextField } from '../lib/ui.tsx';
import { IdentityFields, NO_IDENTITY, identityBody, identityFieldOf, identityProblems, type IdField, type IdentityValues } from './identity.tsx';

const TEXTS = {
  id: {
    link: 'Nomor HP salah / hilang?',
    title: 'Nomor HP salah atau hilang',
    intro:
      'Bila kode tidak pernah sampai karena nomor HP yang terdaftar salah, hilang, atau bukan milik Anda, ajukan nomor baru. Kami mengirim kode ke nomor baru untuk memastikan nomor itu milik Anda, lalu petugas memeriksa permintaan Anda.',
    birthDate: 'Tanggal lahir',
    childBirthDate: 'Tanggal lahir anak',
    childName: 'Nama lengkap anak',
    childNameInvalid: 'Isi nama lengkap anak seperti saat vaksinasi.',
    birthDateInvalid: 'Isi tanggal lahir.',
    name: 'Nama lengkap sesuai KTP',
    nameInvalid: 'Isi nama lengkap Anda.',
    phone: 'Nomor HP baru',
    phoneHint: 'Nomor yang Anda pegang sekarang, misalnya 0812 3456 7890',
    phoneInvalid: 'Isi nomor HP yang dapat menerima SMS, misalnya 0812 3456 7890.',
    note: 'Catatan (tidak wajib)',
    noteHint: 'Misalnya: HP lama hilang, atau nomor dulu diisi petugas',
    noteInvalid: 'Catatan paling banyak 500 karakter.',
    send: 'Kirim kode ke nomor baru',
    sending: 'Mengirim…',
    codeSent: 'Kode dikirim ke {phone}. Masukkan kode 6 angka dari SMS itu.',
    code: 'Kode dari SMS',
    confirm: 'Kirim permintaan',
    confirming: 'Mengirim…',
    codeFormat: 'Kode terdiri dari 6 angka.',
    codeWrong: 'Kode salah. Sisa {left} kali percobaan.',
    codeExpired: 'Kode sudah tidak berlaku. Mulai lagi untuk mendapat kode baru.',
    doneTitle: 'Permintaan Anda sudah dikirim',
    done: 'Petugas akan memeriksa permintaan Anda. Anda akan menerima SMS di {phone} setelah permintaan diputuskan. Bila disetujui, SMS itu berisi tautan sertifikat Anda.',
    rateLimited: 'Terlalu banyak permintaan. Coba lagi besok, atau datang ke faskes Anda.',
    failed: 'Permintaan tidak dapat dikirim. Periksa koneksi internet lalu coba lagi.',
    restart: 'Mulai lagi',
    back: 'Kembali ke pencarian sertifikat',
  },
  en: {
    link: 'Wrong or lost phone?',
    title: 'Wrong or lost phone number',
    intro:
      'If the code never arrives because the phone number on record is wrong, lost or not yours, ask for a new number. We send a code to the new number to make sure it is yours, then our staff check your request.',
    birthDate: 'Date of birth',
    childBirthDate: "Child's date of birth",
    childName: "Child's full name",
    childNameInvalid: "Enter the child's full name as given at vaccination.",
    birthDateInvalid: 'Enter the date of birth.',
    name: 'Full name as on your KTP',
    nameInvalid: 'Enter your full name.',
    phone: 'New mobile number',
    phoneHint: 'The number you hold now, e.g. 0812 3456 7890',
    phoneInvalid: 'Enter a mobile number that can receive SMS, e.g. 0812 3456 7890.',
    note: 'Note (optional)',
    noteHint: 'For example: old phone lost, or staff typed the number',
    noteInvalid: 'A note of at most 500 characters.',
    send: 'Send code to the new number',
    sending: 'Sending…',
    codeSent: 'Code sent to {phone}. Enter the 6-digit code from that SMS.',
    code: 'Code from the SMS',
    confirm: 'Send request',
    confirming: 'Sending…',
    codeFormat: 'The code has 6 digits.',
    codeWrong: 'Wrong code. {left} tries left.',
    codeExpired: 'The code is no longer valid. Start again to get a new code.',
    doneTitle: 'Your request was sent',
    done: 'Our staff will check your request. You will get an SMS at {phone} when it is decided. If approved, that SMS has the link to your certificate.',
    rateLimited: 'Too many requests. Try again tomorrow, or visit your health facility.',
    failed: 'The request could not be sent. Check the internet connection and try again.',
    restart: 'Start again',
    back: 'Back to the certificate lookup',
  },
};

type Key = keyof (typeof TEXTS)['id'];
type Field = 'birthDate' | 'name' | 'newPhone' | 'note';
const json = { 'content-type': 'application/json', accept: 'application/json' };

/** The link on the lookup and code steps that opens this form. */
export function PhoneChangeLink(props: { onOpen: () => void }) {
  const t = useTexts(TEXTS);
  return (
    <p class="hint center">
      <a
        href="#nomor-hp"
        data-testid="phone-change-link"
        onClick={(e) => {
          e.preventDefault();
          props.onOpen();
        }}
      >
        {t('link')}
      </a>
    </p>
  );
}

function Input(props: {
  id: string;
  field: Field;
  label: Key;
  hint?: Key;
  error: Key;
  bad: boolean;
  value: string;
  set: (v: string) => void;
  type?: 'text' | 'date' | 'tel';
  inputMode?: 'numeric' | 'tel' | 'text';
  autoComplete?: string;
  maxLength?: number;
}) {
  const t = useTexts(TEXTS);
  const { field, label, hint, error, bad, set, ...rest } = props;
  return <TextField {...rest} name={field} label={t(label)} hint={hint && t(hint)} error={bad ? t(error) : undefined} onInput={set} />;
}

function RequestForm(props: { onSent: (requestId: string, phoneHint: string) => void; onBack: () => void }) {
  const t = useTexts(TEXTS);
  const [who, setWho] = useState<IdentityValues>({ ...NO_IDENTITY });
  const [v, setV] = useState<Record<Field, string>>({ birthDate: '', name: '', newPhone: '', note: '' });
  const [bad, setBad] = useState<Partial<Record<Field | IdField, boolean>>>({});
  const child = who.idType === 'mother-nik';
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Key | null>(null);
  const set = (f: Field) => (value: string) => setV((old) => ({ ...old, [f]: value }));

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const check: Partial<Record<Field | IdField, boolean>> = {
      ...identityProblems(who),
      birthDate: !/^\d{4}-\d{2}-\d{2}$/.test(v.birthDate),
      name: v.name.trim().length < 2,
      newPhone: v.newPhone.replace(/\D/g, '').length < 9,
      note: v.note.length > 500,
    };
    setBad(check);
    setError(null);
    if (Object.values(check).some(Boolean)) return;
    setBusy(true);
    try {
      const body = { ...identityBody(who), birthDate: v.birthDate, name: v.name.trim(), newPhone: v.newPhone, ...(v.note.trim() ? { note: v.note.trim() } : {}) };
      const r = await fetch('/api/v1/public/phone-corrections', { method: 'POST', headers: json, body: JSON.stringify(body) });
      if (r.status === 202) {
        const a = (await r.json()) as { requestId: string; phoneHint: string };
        props.onSent(a.requestId, a.phoneHint);
        return;
      }
      if (r.status === 400 || r.status === 422) {
        const fields = ((await r.json()) as { error?: { fields?: { path: string }[] } }).error?.fields ?? [];
        setBad(Object.fromEntries(fields.map((f) => [identityFieldOf(f.path, who.idType) ?? f.path, true])));
        if (fields.length === 0) setError('failed');
        return;
      }
      setError(r.status === 429 ? 'rateLimited' : 'failed');
    } catch {
      setError('failed');
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="card" onSubmit={(e) => void submit(e)} noValidate aria-labelledby="phone-change-title" aria-describedby="phone-change-intro">
      <h2 id="phone-change-title" tabIndex={-1}>
        {t('title')}
      </h2>
      <p id="phone-change-intro" class="lead">
        {t('intro')}
      </p>
      <IdentityFields
        prefix="pc-"
        values={who}
        bad={bad}
        onChange={(next) => {
          if (next.idType !== who.idType) setBad({});
          setWho(next);
        }}
      />
      <Input
        id="pc-birth-date"
        field="birthDate"
        label={child ? 'childBirthDate' : 'birthDate'}
        error="birthDateInvalid"
        bad={!!bad.birthDate}
        value={v.birthDate}
        set={set('birthDate')}
        type="date"
        autoComplete={child ? 'off' : 'bday'}
      />
      <Input
        id="pc-name"
        field="name"
        label={child ? 'childName' : 'name'}
        error={child ? 'childNameInvalid' : 'nameInvalid'}
        bad={!!bad.name}
        value={v.name}
        set={set('name')}
        autoComplete={child ? 'off' : 'name'}
        maxLength={100}
      />
      <Input
        id="pc-phone"
        field="newPhone"
        label="phone"
        hint="phoneHint"
        error="phoneInvalid"
        bad={!!bad.newPhone}
        value={v.newPhone}
        set={set('newPhone')}
        type="tel"
        inputMode="tel"
        autoComplete="tel"
        maxLength={24}
      />
      <Input id="pc-note" field="note" label="note" hint="noteHint" error="noteInvalid" bad={!!bad.note} value={v.note} set={set('note')} maxLength={500} />
      {error && <Notice kind="error">{t(error)}</Notice>}
      <div class="stack">
        <button type="submit" class="button block" disabled={busy}>
          {busy ? t('sending') : t('send')}
        </button>
        <button type="button" class="button secondary block" onClick={props.onBack}>
          {t('back')}
        </button>
      </div>
    </form>
  );
}

function CodeStep(props: { requestId: string; phoneHint: string; onSubmitted: () => void; onRestart: () => void }) {
  const t = useTexts(TEXTS);
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [expired, setExpired] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const c = code.replace(/\D/g, '');
    if (!/^\d{6}$/.test(c)) {
      setError(t('codeFormat'));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const r = await fetch(`/api/v1/public/phone-corrections/${encodeURIComponent(props.requestId)}/verify`, { method: 'POST', headers: json, body: JSON.stringify({ code: c }) });
      if (r.ok || r.status === 409) {
        props.onSubmitted();
        return;
      }
      if (r.status === 400) {
        const left = ((await r.json()) as { error?: { detail?: { attemptsLeft?: number } } }).error?.detail?.attemptsLeft;
        setError(left === undefined ? t('codeFormat') : t('codeWrong', { left }));
      } else if (r.status === 410 || r.status === 404) {
        setExpired(true);
        setError(t('codeExpired'));
      } else setError(t('failed'));
    } catch {
      setError(t('failed'));
    } finally {
      setBusy(false);
    }
  };

  const [before, after] = t('codeSent').split('{phone}');
  return (
    <form class="card" onSubmit={(e) => void submit(e)} noValidate>
      <h2>{t('title')}</h2>
      <p class="lead" role="status" data-testid="phone-code-sent">
        {before}
        <span class="phone-hint">{props.phoneHint}</span>
        {after}
      </p>
      <label class="field" for="pc-code">
        <span class="label">{t('code')}</span>
        <input
          ref={input}
          id="pc-code"
          name="code"
          class="code"
          inputMode="numeric"
          autoComplete="one-time-code"
          maxLength={8}
          value={code}
          disabled={expired}
          aria-invalid={error ? 'true' : 'false'}
          aria-describedby={error ? 'pc-code-error' : undefined}
          onInput={(e) => setCode(e.currentTarget.value)}
        />
      </label>
      {error && (
        <div id="pc-code-error">
          <Notice kind="error">{error}</Notice>
        </div>
      )}
      <div class="stack">
        {!expired && (
          <button type="submit" class="button block" disabled={busy}>
            {busy ? t('confirming') : t('confirm')}
          </button>
        )}
        <button type="button" class={`button block${expired ? '' : ' secondary'}`} onClick={props.onRestart}>
          {t('restart')}
        </button>
      </div>
    </form>
  );
}

/** The whole flow: form → code to the new number → sent. */
export function PhoneChange(props: { onBack: () => void }) {
  const t = useTexts(TEXTS);
  const [step, setStep] = useState<{ kind: 'form' } | { kind: 'code'; requestId: string; phoneHint: string } | { kind: 'done'; phoneHint: string }>({ kind: 'form' });
  useEffect(() => {
    if (step.kind === 'form') document.getElementById('phone-change-title')?.focus();
    if (step.kind === 'done') document.getElementById('phone-change-done')?.focus();
  }, [step.kind]);

  if (step.kind === 'form') return <RequestForm onSent={(requestId, phoneHint) => setStep({ kind: 'code', requestId, phoneHint })} onBack={props.onBack} />;
  if (step.kind === 'code')
    return (
      <CodeStep
        requestId={step.requestId}
        phoneHint={step.phoneHint}
        onSubmitted={() => setStep({ kind: 'done', phoneHint: step.phoneHint })}
        onRestart={() => setStep({ kind: 'form' })}
      />
    );
  const [before, after] = t('done').split('{phone}');
  return (
    <div class="card" data-testid="phone-change-done">
      <h2 id="phone-change-done" tabIndex={-1}>
        {t('doneTitle')}
      </h2>
      <Notice kind="info">
        {before}
        <span class="phone-hint">{step.phoneHint}</span>
        {after}
      </Notice>
      <button type="button" class="button secondary block" onClick={props.onBack}>
        {t('back')}
      </button>
    </div>
  );
}
