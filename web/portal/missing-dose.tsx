/**
 * "My dose is missing" on the portal's certificates step (issue 9), at its top
 * (issue 17: under the certificates it was ~3,800 px down on a phone): a person
 * whose dose is not on record reports it — date, facility (one searchable field,
 * web/lib/combobox.tsx, matches by name or code from
 * `GET /api/v1/public/facilities`), vaccine, dose, lot if known,
 * a note — with `POST /api/v1/public/dose-requests`, authorised by the
 * portal session's access token. Below it, the person's requests and, in
 * words, where each one stands (`GET /api/v1/public/dose-requests`).
 */
import { useEffect, useState } from 'preact/hooks';
import { useLang, useTexts } from '../lib/lang.ts';
import { GLOSSARY as G, lower } from '../lib/glossary.ts';
import { Notice } from '../lib/ui.tsx';
import { Combobox } from '../lib/combobox.tsx';
import { allVaccines } from '../../src/domain/vaccines.ts';
import { DECLINE_REASON_TEXT, type OwnDoseRequest as OwnRequest } from '../../src/domain/dose-requests.ts';

const TEXTS = {
  id: {
    open: 'Dosis saya tidak tercatat',
    title: 'Laporkan dosis yang tidak tercatat',
    intro: 'Isi data vaksinasi yang Anda terima. Laporan dikirim ke faskes tempat Anda divaksinasi; faskes akan mencatat dosis atau menjelaskan alasannya lewat SMS.',
    date: 'Tanggal vaksinasi',
    facility: 'Faskes tempat vaksinasi',
    facilityHint: 'Ketik nama atau kode, minimal 2 huruf (misalnya "Puskesmas Menteng"), lalu pilih dari daftar.',
    facilityNone: 'Tidak ada faskes yang cocok.',
    vaccine: 'Vaksin',
    vaccinePick: '— pilih vaksin —',
    dose: 'Dosis ke',
    lot: 'Nomor batch (jika tahu)',
    lotHint: 'Tertulis di kartu vaksinasi.',
    note: 'Catatan (tidak wajib)',
    send: 'Kirim laporan',
    sending: 'Mengirim…',
    cancel: 'Batal',
    sent: 'Laporan terkirim ke {facility}. Anda akan menerima SMS setelah faskes memeriksanya.',
    failed: 'Laporan tidak dapat dikirim. Coba lagi.',
    sessionEnded: 'Sesi sudah berakhir. Mulai lagi untuk mendapat kode baru.',
    required: 'Wajib diisi.',
    yours: 'Laporan dosis Anda',
    doseOf: 'Dosis {dose} · {vaccine} · {date}',
    status_open: G.id['request.open'],
    status_escalated: `Belum dijawab faskes: ${lower(G.id['request.escalated'])}`,
    status_entered: `${G.id['request.entered']} — sertifikat terbit`,
    status_declined: `${G.id['request.declined']}: {reason}`,
  },
  en: {
    open: 'My dose is missing',
    title: 'Report a dose that is not on record',
    intro: 'Fill in the vaccination you received. The report goes to the facility that vaccinated you; it will record the dose or tell you why not by SMS.',
    date: 'Vaccination date',
    facility: 'Facility where you were vaccinated',
    facilityHint: 'Type its name or code, at least 2 letters (e.g. "Puskesmas Menteng"), then pick it from the list.',
    facilityNone: 'No facility matches.',
    vaccine: 'Vaccine',
    vaccinePick: '— choose the vaccine —',
    dose: 'Dose number',
    lot: 'Lot number (if known)',
    lotHint: 'Written on the vaccination card.',
    note: 'Note (optional)',
    send: 'Send report',
    sending: 'Sending…',
    cancel: 'Cancel',
    sent: 'Report sent to {facility}. You will get an SMS once the facility has looked at it.',
    failed: 'The report could not be sent. Try again.',
    sessionEnded: 'The session has ended. Start again to get a new code.',
    required: 'Required.',
    yours: 'Your dose reports',
    doseOf: 'Dose {dose} · {vaccine} · {date}',
    status_open: G.en['request.open'],
    status_escalated: `Not answered by the facility: ${lower(G.en['request.escalated'])}`,
    status_entered: `${G.en['request.entered']} — certificate issued`,
    status_declined: `${G.en['request.declined']}: {reason}`,
  },
};

type Field = 'date' | 'facility' | 'vaccine' | 'doseNumber' | 'lot' | 'note';
const VACCINES = allVaccines();

export function MissingDose(props: { accessToken: string }) {
  const { lang } = useLang();
  const t = useTexts(TEXTS);
  const auth = { authorization: `Bearer ${props.accessToken}`, accept: 'application/json', 'accept-language': lang };
  const [opened, setOpened] = useState(false);
  const [requests, setRequests] = useState<OwnRequest[]>([]);
  const [form, setForm] = useState({ date: '', facility: '', vaccine: '', doseNumber: '1', lot: '', note: '' });
  const [query, setQuery] = useState('');
  const [found, setFound] = useState<{ code: string; name: string }[] | null>(null);
  const [errors, setErrors] = useState<Partial<Record<Field, string>>>({});
  const [message, setMessage] = useState<{ kind: 'info' | 'error'; text: string } | null>(null);
  const [busy, setBusy] = useState(false);

  const load = async (): Promise<void> => {
    try {
      const r = await fetch('/api/v1/public/dose-requests', { cache: 'no-store', headers: auth });
      if (r.ok) setRequests(((await r.json()) as { requests: OwnRequest[] }).requests);
    } catch {
      // The list is a convenience: the form works without it.
    }
  };
  useEffect(() => void load(), [props.accessToken]);

  // The facility picker: codes and names matching what is typed.
  useEffect(() => {
    if (query.trim().length < 2) {
      setFound(null);
      return;
    }
    const timer = setTimeout(() => {
      fetch(`/api/v1/public/facilities?q=${encodeURIComponent(query.trim())}`, { headers: { accept: 'application/json' } })
        .then(async (r) => (r.ok ? ((await r.json()) as { facilities: { code: string; name: string }[] }).facilities : []))
        .then(setFound)
        .catch(() => setFound([]));
    }, 250);
    return () => clearTimeout(timer);
  }, [query]);

  /** A field's new value; its error, if any, goes until the next send. */
  const set = (k: Field) => (e: { currentTarget: { value: string } }) => {
    setForm({ ...form, [k]: e.currentTarget.value });
    if (errors[k]) setErrors({ ...errors, [k]: undefined });
  };

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setMessage(null);
    const missing: Partial<Record<Field, string>> = {};
    for (const k of ['date', 'facility', 'vaccine'] as const) if (!form[k]) missing[k] = t('required');
    setErrors(missing);
    if (Object.keys(missing).length) return;
    setBusy(true);
    try {
      const body = {
        date: form.date,
        facility: form.facility,
        vaccine: form.vaccine,
        doseNumber: Number(form.doseNumber),
        ...(form.lot.trim() ? { lot: form.lot.trim() } : {}),
        ...(form.note.trim() ? { note: form.note.trim() } : {}),
      };
      const r = await fetch('/api/v1/public/dose-requests', { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      if (r.status === 201) {
        const made = (await r.json()) as OwnRequest;
        setMessage({ kind: 'info', text: t('sent', { facility: made.facility.name }) });
        setOpened(false);
        setForm({ date: '', facility: '', vaccine: '', doseNumber: '1', lot: '', note: '' });
        setQuery('');
        await load();
        return;
      }
      if (r.status === 401) {
        setMessage({ kind: 'error', text: t('sessionEnded') });
        return;
      }
      const err = ((await r.json().catch(() => ({}))) as { error?: { message?: string; fields?: { path: string; message: string }[] } }).error;
      const byField: Partial<Record<Field, string>> = {};
      for (const f of err?.fields ?? []) if (f.path in form) byField[f.path as Field] = f.message;
      setErrors(byField);
      setMessage({ kind: 'error', text: err?.message ?? t('failed') });
    } catch {
      setMessage({ kind: 'error', text: t('failed') });
    } finally {
      setBusy(false);
    }
  };

  /** aria attributes of a field with its error, if any. */
  const invalid = (k: Field, hint?: string) => ({
    'aria-invalid': errors[k] ? ('true' as const) : ('false' as const),
    'aria-describedby': [hint, errors[k] ? `md-${k}-error` : undefined].filter(Boolean).join(' ') || undefined,
  });
  const errorOf = (k: Field) =>
    errors[k] && (
      <span class="error" id={`md-${k}-error`}>
        {errors[k]}
      </span>
    );

  const statusText = (r: OwnRequest): string =>
    r.status === 'declined' && r.decline
      ? t('status_declined', { reason: r.decline.reason === 'other' ? (r.decline.text ?? '') : DECLINE_REASON_TEXT[r.decline.reason][lang] })
      : t(`status_${r.status}`);

  return (
    <section class="missing-dose" aria-labelledby="md-title">
      {message && <Notice kind={message.kind}>{message.text}</Notice>}
      {!opened ? (
        <button type="button" class="button secondary block" aria-expanded="false" aria-controls="md-form" onClick={() => setOpened(true)}>
          {t('open')}
        </button>
      ) : (
        <form id="md-form" class="card" onSubmit={(e) => void submit(e)} noValidate>
          <h2 id="md-title">{t('title')}</h2>
          <p class="lead">{t('intro')}</p>
          <label class="field" for="md-date">
            <span class="label">{t('date')}</span>
            <input id="md-date" type="date" min="2021-01-01" max={new Date().toISOString().slice(0, 10)} value={form.date} onInput={set('date')} {...invalid('date')} />
            {errorOf('date')}
          </label>
          <Combobox
            id="md-facility"
            label={t('facility')}
            hint={t('facilityHint')}
            query={query}
            onQuery={setQuery}
            options={found && found.map((f) => ({ value: f.code, label: `${f.name} (${f.code})` }))}
            value={form.facility}
            onPick={(o) => {
              setForm((f) => ({ ...f, facility: o?.value ?? '' }));
              if (o) setErrors((e) => ({ ...e, facility: undefined }));
            }}
            none={t('facilityNone')}
            error={errors.facility}
          />
          <label class="field" for="md-vaccine">
            <span class="label">{t('vaccine')}</span>
            <select id="md-vaccine" value={form.vaccine} onChange={set('vaccine')} {...invalid('vaccine')}>
              <option value="">{t('vaccinePick')}</option>
              {VACCINES.map((v) => (
                <option value={v.code} key={v.code}>
                  {v.name}
                </option>
              ))}
            </select>
            {errorOf('vaccine')}
          </label>
          <label class="field" for="md-dose">
            <span class="label">{t('dose')}</span>
            <select id="md-dose" value={form.doseNumber} onChange={set('doseNumber')} {...invalid('doseNumber')}>
              {[1, 2, 3, 4, 5].map((n) => (
                <option value={String(n)} key={n}>
                  {n}
                </option>
              ))}
            </select>
            {errorOf('doseNumber')}
          </label>
          <label class="field" for="md-lot">
            <span class="label">{t('lot')}</span>
            <span class="hint" id="md-lot-hint">
              {t('lotHint')}
            </span>
            <input id="md-lot" maxLength={50} autoComplete="off" value={form.lot} onInput={set('lot')} {...invalid('lot', 'md-lot-hint')} />
            {errorOf('lot')}
          </label>
          <label class="field" for="md-note">
            <span class="label">{t('note')}</span>
            <textarea id="md-note" maxLength={500} rows={3} value={form.note} onInput={set('note')} {...invalid('note')} />
            {errorOf('note')}
          </label>
          <div class="stack">
            <button type="submit" class="button block" disabled={busy}>
              {busy ? t('sending') : t('send')}
            </button>
            <button type="button" class="button secondary block" onClick={() => setOpened(false)}>
              {t('cancel')}
            </button>
          </div>
        </form>
      )}
      {requests.length > 0 && (
        <div class="card" data-testid="dose-requests">
          <h2>{t('yours')}</h2>
          <ul class="md-list">
            {requests.map((r) => (
              <li key={r.id} data-testid="dose-request" data-status={r.status}>
                <strong>{t('doseOf', { dose: r.doseNumber, vaccine: r.vaccine.name, date: r.date })}</strong>
                <span class="hint">{r.facility.name}</span>
                <span class={`md-status md-${r.status}`}>{statusText(r)}</span>
              </li>
            ))}
          </ul>
        </div>
      )}
    </section>
  );
}
