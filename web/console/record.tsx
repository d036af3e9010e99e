/**
 * Record a dose (`/console/record`): the fields of `POST /api/v1/vaccinations`,
 * checked as they are typed by the API's own validator
 * (`validateVaccinationInput` of src/domain/, run in the browser, fetched beside the form: validator.ts), the person
 * looked up by NIK and pre-filled, then the certificate and whether its SMS
 * went out. Every entry goes through the device queue (queue.ts) with its
 * own Idempotency-Key: online it is sent at once; offline it waits on the
 * device and is sent when the network returns.
 */
import type { VNode } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { useLang, useOnline, useTexts, type Texts, type Translate } from '../lib/lang.ts';
import { GLOSSARY as G, lower } from '../lib/glossary.ts';
import { Facts, Notice } from '../lib/ui.tsx';
import { QrCode } from './qr-later.tsx';
import { formatDate } from '../../src/certificates/display.ts';
import { listVaccines } from '../../src/domain/vaccines.ts';
import { todayInJakarta } from '../../src/domain/dates.ts';
import { NOT_CHECKED, useChecks } from './validator.ts';
import { nikBirthDate, parseNik } from '../../src/domain/nik.ts';
import type { FieldIssue } from '../../src/domain/errors.ts';
import { PATH_FIELD } from '../../src/records/import/columns.ts';
import { api, type ConsoleUser } from './api.ts';
import type { PageProps } from './pages.ts';
import { discard, enqueue, listEntries, replaceEntry, syncNow, type DoseAnswer, type DoseBody, type QueuedEntry } from './queue.ts';
import { SmsStatus } from './sms-status.tsx';
import { IdentityFields, identityBody, identityInputId, type IdField, type IdType, type IdentityValues } from '../portal/identity.tsx';

const id = {
  title: 'Catat Dosis',
  intro: 'Isian diperiksa saat Anda mengetik, dengan aturan yang sama seperti server. Tanpa internet, dosis disimpan di perangkat ini dan dikirim nanti.',
  facility: 'Fasilitas kesehatan',
  facilityChoose: 'Pilih faskes',
  person: 'Orang yang divaksinasi',
  nik: 'NIK',
  nikHint: '16 angka pada KTP atau Kartu Keluarga',
  lookingUp: 'Mencari data orang ini…',
  known: 'Sudah terdaftar: {name}, {doses} dosis tercatat. Data diisi dari catatan.',
  knownMasked: 'Sudah terdaftar ({doses} dosis tercatat).',
  notKnown: 'Belum ada catatan untuk NIK ini di wilayah Anda: isi datanya.',
  fromNik: 'Tanggal lahir dan jenis kelamin diisi dari NIK; periksa kembali.',
  name: 'Nama lengkap',
  birthDate: 'Tanggal lahir',
  sex: 'Jenis kelamin',
  male: 'Laki-laki',
  female: 'Perempuan',
  phone: 'Nomor HP',
  phoneHint: 'Untuk SMS sertifikat. Boleh dikosongkan bila tidak ada.',
  dose: 'Vaksinasi',
  vaccine: 'Vaksin',
  vaccineChoose: 'Pilih vaksin',
  doseNumber: 'Dosis ke-',
  date: 'Tanggal vaksinasi',
  lot: 'Nomor batch',
  submit: 'Simpan dan terbitkan sertifikat',
  submitOffline: 'Simpan di perangkat',
  sending: 'Menyimpan…',
  fixFirst: 'Periksa isian yang ditandai.',
  savedOffline: 'Tersimpan di perangkat ini (tanpa internet). Akan dikirim otomatis saat internet kembali. Anda dapat mencatat dosis berikutnya.',
  savedLater: 'Tersimpan di perangkat ini; server belum dapat dihubungi. Akan dikirim otomatis.',
  rejected: G.id['entry.refused'],
  priorMissing: `${G.id['dose.priorMissing']} ({doses} dosis tercatat). Dosis ini tetap dicatat dan ditandai "${lower(G.id['dose.priorMissing'])}"; petugas akan mengecek dosis sebelumnya.`,
  alreadyHas: 'Orang ini sudah memiliki {doses} dosis tercatat; dosis ke-{n} mungkin sudah ada.',
  recorded: 'Dosis tercatat dan sertifikat diterbitkan',
  recordedClaims: `Dosis tercatat (${lower(G.id['dose.priorMissingCase'])})`,
  heldIdentity: 'Nama tidak cocok dengan data untuk identitas ini. Dosis tercatat; sertifikat dan SMS menunggu konfirmasi nama di daftar kerja.',
  phoneChangePending: 'Nomor HP lain sudah tercatat. Nomor baru dipakai setelah dikonfirmasi (kode ke nomor baru, di daftar kerja “Ganti nomor HP”).',
  replayed: 'Dosis ini sudah tercatat sebelumnya (pengiriman ulang); berikut sertifikatnya.',
  certificate: 'Sertifikat',
  uvci: 'Nomor sertifikat',
  openCertificate: 'Buka halaman sertifikat',
  next: 'Dosis berikutnya',
  nextText: 'Dosis ke-{n} mulai {date}',
  another: 'Catat dosis berikutnya',
  qrLabel: 'Kode QR sertifikat',
  nikRequired: 'Isi NIK. Untuk yang tidak punya NIK, pilih “Paspor” atau “NIK ibu” pada Identitas.',
  identity: 'Identitas',
  onRecord: 'Dosis yang sudah tercatat:',
  doseLine: 'Dosis ke-{n} · {date} · {vaccine}',
  duplicateWarn: 'Dosis ke-{n} orang ini sudah tercatat ({date}, {vaccine}). Bila disimpan, akan ditolak: periksa nomor dosis.',
  refusedDuplicate: 'Tidak disimpan: dosis ke-{n} orang ini sudah tercatat ({date}, {vaccine}).',
  refusedConflict: 'Tidak disimpan: dosis ini bertentangan dengan dosis yang sudah tercatat untuk orang ini.',
  openPerson: 'Lihat data orang ini',
  placeholderPhone: 'Nomor ini tampak asal diisi (angka berulang atau berurutan): SMS sertifikat akan ditahan untuk diperiksa. Isi nomor HP orangnya sendiri, atau kosongkan.',
};
const en: Record<keyof typeof id, string> = {
  title: 'Record a Dose',
  intro: 'Fields are checked as you type, with the same rules as the server. Without internet, doses are kept on this device and sent later.',
  facility: 'Health facility',
  facilityChoose: 'Choose a facility',
  person: 'Person vaccinated',
  nik: 'NIK',
  nikHint: '16 digits on the ID card or family card',
  lookingUp: 'Looking this person up…',
  known: 'Already known: {name}, {doses} doses on record. Filled in from the record.',
  knownMasked: 'Already known ({doses} doses on record).',
  notKnown: 'No record for this NIK in your area yet: fill in the details.',
  fromNik: 'Birth date and sex filled in from the NIK; please check.',
  name: 'Full name',
  birthDate: 'Birth date',
  sex: 'Sex',
  male: 'Male',
  female: 'Female',
  phone: 'Mobile number',
  phoneHint: 'For the certificate SMS. May be left empty when there is none.',
  dose: 'Vaccination',
  vaccine: 'Vaccine',
  vaccineChoose: 'Choose a vaccine',
  doseNumber: 'Dose number',
  date: 'Vaccination date',
  lot: 'Lot number',
  submit: 'Save and issue the certificate',
  submitOffline: 'Save on this device',
  sending: 'Saving…',
  fixFirst: 'Check the marked fields.',
  savedOffline: 'Saved on this device (no internet). It will be sent automatically when the internet is back. You can record the next dose.',
  savedLater: 'Saved on this device; the server cannot be reached yet. It will be sent automatically.',
  rejected: G.en['entry.refused'],
  priorMissing: `${G.en['dose.priorMissing']} ({doses} doses on record). This dose is still recorded and marked "${lower(G.en['dose.priorMissing'])}"; staff will check the earlier dose.`,
  alreadyHas: 'This person already has {doses} doses on record; dose {n} may exist already.',
  recorded: 'Dose recorded and certificate issued',
  recordedClaims: `Dose recorded (${lower(G.en['dose.priorMissingCase'])})`,
  heldIdentity: 'The name does not match the record for this identifier. The dose is recorded; its certificate and SMS wait until the name is confirmed on the work list.',
  phoneChangePending: 'Another phone number is on record. The new number is used once confirmed (a code to it, on the “Phone change” work list).',
  replayed: 'This dose was recorded before (a repeated send); here is its certificate.',
  certificate: 'Certificate',
  uvci: 'Certificate number',
  openCertificate: 'Open the certificate page',
  next: 'Next dose',
  nextText: 'Dose {n} from {date}',
  another: 'Record the next dose',
  qrLabel: 'Certificate QR code',
  nikRequired: 'Enter the NIK. For someone without one, choose “Passport” or “Mother’s NIK” under Identity.',
  identity: 'Identity',
  onRecord: 'Doses on record:',
  doseLine: 'Dose {n} · {date} · {vaccine}',
  duplicateWarn: 'Dose {n} of this person is already on record ({date}, {vaccine}). Saving it will be refused: check the dose number.',
  refusedDuplicate: 'Not saved: dose {n} of this person is already on record ({date}, {vaccine}).',
  refusedConflict: 'Not saved: this dose conflicts with a dose on record for this person.',
  openPerson: 'Open this person’s record',
  placeholderPhone: 'This number looks made up (repeated or counting digits): the certificate SMS will be held for review. Enter the person’s own mobile number, or leave it empty.',
};
export const RECORD_TEXTS: Texts<keyof typeof id> = { id, en };

interface Form extends IdentityValues {
  facility: string;
  name: string;
  birthDate: string;
  sex: '' | 'M' | 'F';
  phone: string;
  vaccine: string;
  doseNumber: string;
  date: string;
  lot: string;
}

type FieldName = Exclude<keyof Form, 'idType'>;

const ID_INPUT: Record<IdType, IdField> = { nik: 'nik', passport: 'passport', 'mother-nik': 'motherNik' };

/** The form field where an issue of the API's validator is shown (the same mapping as for import rows); identity issues go to the input of the identity chosen. */
function fieldOfPath(path: string, idType: IdType): FieldName | undefined {
  const f = PATH_FIELD[path];
  if (f === 'passportCountry') return 'country';
  if (f === undefined) return path.startsWith('person.') ? ID_INPUT[idType] : undefined;
  return f === 'nik' || f === 'passport' || f === 'motherNik' ? ID_INPUT[idType] : f;
}

/** A dose on record for the person the NIK names (`GET /api/v1/people/{id}/doses`). */
interface DoseOnRecord {
  doseNumber: number;
  date: string;
  vaccine: string;
  status: string;
  ownFacility: boolean;
  certificateLink: string | null;
}

interface Person {
  id: string;
  identifier: { type: string };
  name: string;
  birthDate: string;
  sex: string | null;
  phone: string | null;
  doses: number;
  masked: boolean;
}

interface FacilityOption {
  code: string;
  name: string;
  regionCode: string;
}

const FACILITIES_KEY = 'dosis.console.facilities';

/** The facilities this user may record for (district: its region; admin: all), kept for offline use. */
export function useFacilities(user: ConsoleUser): FacilityOption[] {
  const [list, setList] = useState<FacilityOption[]>(() => {
    try {
      return JSON.parse(localStorage.getItem(FACILITIES_KEY) ?? '[]') as FacilityOption[];
    } catch {
      return [];
    }
  });
  useEffect(() => {
    if (user.role === 'facility') return;
    api<{ facilities: FacilityOption[] }>('GET', '/api/v1/facilities')
      .then((r) => {
        const mine = r.facilities.filter((f) => user.role !== 'district' || (user.regionCode !== null && f.regionCode.startsWith(user.regionCode)));
        setList(mine);
        try {
          localStorage.setItem(FACILITIES_KEY, JSON.stringify(mine));
        } catch {
          // Not kept: offline entry will need the code typed.
        }
      })
      .catch(() => undefined);
  }, [user.role, user.regionCode]);
  return list;
}

function emptyForm(today: string, keep?: Partial<Form>): Form {
  return { facility: '', idType: 'nik', nik: '', passport: '', country: '', motherNik: '', name: '', birthDate: '', sex: '', phone: '', vaccine: '', doseNumber: '1', date: today, lot: '', ...keep };
}

/** The form of a body (a queued entry being fixed). */
function formOf(b: DoseBody, today: string): Form {
  const sex = b.person.sex === 'M' || b.person.sex === 'F' ? b.person.sex : '';
  const id = b.person.identifier;
  return emptyForm(today, {
    facility: b.facility ?? '',
    ...(id === undefined
      ? { nik: b.person.nik ?? '' }
      : id.type === 'passport'
        ? { idType: 'passport', passport: id.value, country: id.country ?? '' }
        : id.type === 'mother-nik'
          ? { idType: 'mother-nik', motherNik: id.value }
          : { nik: id.value }),
    name: b.person.name,
    birthDate: b.person.birthDate,
    sex,
    phone: b.person.phone ?? '',
    vaccine: b.vaccine,
    doseNumber: String(b.doseNumber),
    date: b.date,
    lot: b.lot ?? '',
  });
}

/** The API body of the form (what `POST /api/v1/vaccinations` takes). */
export function bodyOf(f: Form, user: ConsoleUser): DoseBody {
  return {
    person: { ...identityBody(f), name: f.name, birthDate: f.birthDate, sex: f.sex, ...(f.phone.trim() ? { phone: f.phone.trim() } : {}) },
    vaccine: f.vaccine,
    doseNumber: Number(f.doseNumber),
    date: f.date,
    ...(f.lot.trim() ? { lot: f.lot.trim() } : {}),
    ...(user.role === 'facility' ? {} : { facility: f.facility }),
  };
}

type RecordT = (k: keyof typeof id, v?: Record<string, string | number>) => string;

/** A validator's or the server's message in the form's words: it never names an API path such as `person.identifier`. */
function inWords(i: { path: string; code: string; message: { id: string; en: string } }, t: RecordT, lang: 'id' | 'en'): string {
  if (i.code === 'required' && (i.path === 'person.nik' || i.path === '')) return t('nikRequired');
  return i.message[lang].replace(/person\.identifier(\.\w+)?|person\.nik/g, t('identity'));
}

/** The label of the form field an API path names (shown for each problem the server lists). */
function labelOfPath(path: string, idType: IdType, t: RecordT, tl: Translate): string {
  const f = fieldOfPath(path, idType);
  const labels: Record<FieldName, string> = {
    facility: t('facility'),
    nik: t('nik'),
    passport: tl('portal.passport'),
    country: tl('portal.country'),
    motherNik: tl('portal.motherNik'),
    name: t('name'),
    birthDate: t('birthDate'),
    sex: t('sex'),
    phone: t('phone'),
    vaccine: t('vaccine'),
    doseNumber: t('doseNumber'),
    date: t('date'),
    lot: t('lot'),
  };
  return f ? labels[f] : t('identity');
}

type Outcome = { kind: 'sent'; answer: DoseAnswer; replay: boolean } | { kind: 'waiting'; offline: boolean } | { kind: 'rejected'; error: NonNullable<QueuedEntry['error']> };

export function RecordPage(props: PageProps): VNode {
  const { user } = props;
  const t = useTexts(RECORD_TEXTS);
  const { lang, t: tl } = useLang();
  const online = useOnline();
  const today = todayInJakarta(new Date());
  const vaccines = useMemo(() => listVaccines(today), [today]);
  const facilities = useFacilities(user);
  const [form, setForm] = useState<Form>(() => emptyForm(today));
  const [touched, setTouched] = useState<Set<FieldName>>(new Set());
  const [submitted, setSubmitted] = useState(false);
  const [busy, setBusy] = useState(false);
  const [person, setPerson] = useState<Person | null | 'looking' | 'none'>(null);
  const [filledFromNik, setFilledFromNik] = useState(false);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [onRecord, setOnRecord] = useState<DoseOnRecord[] | null>(null);
  const [refusal, setRefusal] = useState<{ personId: string; doses: DoseOnRecord[] | null } | null>(null);
  // Bumped by "record the next dose": the form is back, scrolled to its top, the identity input focused.
  const [fresh, setFresh] = useState(0);
  const resultRef = useRef<HTMLDivElement>(null);
  // `?fix=<key>`: a queued entry the server refused, loaded into the form to be corrected.
  const fixKey = props.query.get('fix');
  const [fixing, setFixing] = useState<QueuedEntry | null>(null);
  useEffect(() => {
    if (!fixKey) return;
    void listEntries().then((all) => {
      const e = all.find((x) => x.key === fixKey && x.state === 'rejected');
      if (!e) return;
      setFixing(e);
      setForm(formOf(e.body, today));
      setSubmitted(true);
    });
  }, [fixKey]);

  const body = bodyOf(form, user);
  const checks = useChecks();
  const validation = checks ? checks.validateVaccinationInput(body, { today }) : NOT_CHECKED;
  const issues: FieldIssue[] = validation.ok ? [] : validation.issues;
  const byField = new Map<FieldName, string[]>();
  for (const i of issues) {
    const f = fieldOfPath(i.path, form.idType);
    if (!f) continue;
    byField.set(f, [...(byField.get(f) ?? []), inWords(i, t, lang)]);
  }
  if (user.role !== 'facility' && !form.facility) byField.set('facility', [lang === 'id' ? 'wajib diisi' : 'required']);
  const shown = (f: FieldName): string[] => (submitted || touched.has(f) ? (byField.get(f) ?? []) : []);

  const set = (f: FieldName, v: string): void => {
    setForm((old) => ({ ...old, [f]: v }));
  };
  const touch = (f: FieldName): void => setTouched((old) => new Set(old).add(f));

  // The person by NIK: pre-fill what the record knows; else the birth date and sex the NIK encodes.
  const nikDigits = form.idType === 'nik' ? (body.person.nik ?? '') : '';
  useEffect(() => {
    setPerson(null);
    setOnRecord(null);
    setFilledFromNik(false);
    if (!parseNik(nikDigits)) return;
    let stale = false;
    const fromNik = (): void => {
      const p = parseNik(nikDigits);
      const birth = nikBirthDate(nikDigits, { today });
      if (!p || !birth) return;
      setForm((old) => (old.birthDate || old.sex ? old : { ...old, birthDate: birth, sex: p.sex }));
      setFilledFromNik(true);
    };
    if (!navigator.onLine) {
      fromNik();
      return;
    }
    setPerson('looking');
    api<{ people: Person[] }>('GET', `/api/v1/people?nik=${encodeURIComponent(nikDigits)}`)
      .then((r) => {
        if (stale) return;
        // A mother's NIK names her children too: only the person whose own NIK this is.
        const p = r.people.find((x) => x.identifier.type === 'nik');
        if (!p) {
          setPerson('none');
          fromNik();
          return;
        }
        setPerson(p);
        setForm((old) => ({
          ...old,
          name: old.name || p.name,
          birthDate: old.birthDate || p.birthDate,
          sex: old.sex || (p.sex === 'M' || p.sex === 'F' ? p.sex : ''),
          phone: old.phone || (p.masked || !p.phone ? '' : p.phone),
          doseNumber: String(Math.min(5, p.doses + 1)),
        }));
        // Which doses: what the person's record shows this caller (the same scope as the search).
        if (p.doses > 0)
          void api<{ doses: DoseOnRecord[] }>('GET', `/api/v1/people/${encodeURIComponent(p.id)}/doses`)
            .then((d) => !stale && setOnRecord(d.doses))
            .catch(() => undefined);
      })
      .catch(() => {
        if (stale) return;
        setPerson(null);
        fromNik();
      });
    return () => {
      stale = true;
    };
  }, [nikDigits]);

  useEffect(() => {
    if (fresh === 0) return;
    // The next person: no scroll and no tap before typing their identity.
    window.scrollTo(0, 0);
    const input = document.getElementById(identityInputId('f-', ID_INPUT[form.idType]));
    input?.focus({ preventScroll: true });
    if (input && input.getBoundingClientRect().bottom > window.innerHeight) input.scrollIntoView({ block: 'center' });
  }, [fresh]);

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setSubmitted(true);
    setOutcome(null);
    setRefusal(null);
    if (!validation.ok || byField.has('facility')) {
      const first = document.querySelector<HTMLElement>('.record-form [aria-invalid="true"]');
      first?.focus();
      return;
    }
    setBusy(true);
    try {
      const entry = fixing ? ((await replaceEntry(fixing.key, body)) ?? (await enqueue(body, user.id))) : await enqueue(body, user.id);
      if (fixing) {
        setFixing(null);
        props.navigate('/console/record');
      }
      await syncNow(user.id);
      const now = (await listEntries()).find((x) => x.key === entry.key);
      if (now?.state === 'sent' && now.answer) {
        setOutcome({ kind: 'sent', answer: now.answer, replay: false });
        await discard(now.key);
      } else if (now?.state === 'rejected' && now.error) {
        // The person is here to fix it: the reasons go on the form, not in the queue.
        setOutcome({ kind: 'rejected', error: now.error });
        await discard(now.key);
        const personId = now.error.detail?.personId;
        if (typeof personId === 'string') {
          setRefusal({ personId, doses: null });
          void api<{ doses: DoseOnRecord[] }>('GET', `/api/v1/people/${encodeURIComponent(personId)}/doses`)
            .then((d) => setRefusal({ personId, doses: d.doses }))
            .catch(() => undefined);
        }
      } else {
        setOutcome({ kind: 'waiting', offline: !navigator.onLine });
        // Ready for the next person; the facility and vaccination details stay (a session of one vaccine, one lot).
        setForm(emptyForm(today, { facility: form.facility, vaccine: form.vaccine, date: form.date, lot: form.lot, doseNumber: form.doseNumber }));
        setTouched(new Set());
        setSubmitted(false);
      }
    } finally {
      setBusy(false);
      requestAnimationFrame(() => resultRef.current?.focus());
    }
  };

  if (outcome?.kind === 'sent') {
    return (
      <>
        <h1>{t('title')}</h1>
        <div ref={resultRef} tabIndex={-1}>
          <Result answer={outcome.answer} t={t} lang={lang} />
        </div>
        <p>
          <button
            type="button"
            class="button block"
            onClick={() => {
              setOutcome(null);
              setForm(emptyForm(today, { facility: form.facility, vaccine: form.vaccine, date: form.date, lot: form.lot, doseNumber: form.doseNumber }));
              setTouched(new Set());
              setSubmitted(false);
              setFresh((n) => n + 1);
            }}
          >
            {t('another')}
          </button>
        </p>
      </>
    );
  }

  const field = (name: FieldName, label: string, input: (invalid: boolean, describedBy: string | undefined) => VNode, hint?: string, warning?: string): VNode => {
    const errors = shown(name);
    const ids = [hint ? `${name}-hint` : '', errors.length ? `${name}-error` : '', warning ? `${name}-warn` : ''].filter(Boolean).join(' ') || undefined;
    return (
      <div class="field" data-field={name}>
        <label class="label" for={`f-${name}`}>
          {label}
        </label>
        {hint && (
          <span class="hint" id={`${name}-hint`}>
            {hint}
          </span>
        )}
        {input(errors.length > 0, ids)}
        {errors.length > 0 && (
          <span class="error" id={`${name}-error`} data-testid={`error-${name}`}>
            {errors.join(' ')}
          </span>
        )}
        {warning && errors.length === 0 && (
          <span class="field-warn" id={`${name}-warn`} data-testid={`warn-${name}`}>
            {warning}
          </span>
        )}
      </div>
    );
  };
  const text = (name: FieldName, extra: Record<string, unknown> = {}) => (invalid: boolean, describedBy: string | undefined) => (
    <input
      id={`f-${name}`}
      name={name}
      value={form[name]}
      aria-invalid={invalid ? 'true' : 'false'}
      aria-describedby={describedBy}
      onInput={(e) => set(name, e.currentTarget.value)}
      onBlur={() => touch(name)}
      {...extra}
    />
  );

  const doses = person !== null && typeof person === 'object' ? person.doses : null;
  const n = Number(form.doseNumber);
  const vaccineName = (code: string, date: string): string => listVaccines(date).find((v) => v.code === code)?.name ?? code;
  const doseWords = (d: DoseOnRecord): Record<string, string | number> => ({ n: d.doseNumber, date: formatDate(d.date, lang), vaccine: vaccineName(d.vaccine, d.date) });
  const sameNumber = onRecord?.find((d) => d.doseNumber === n);
  // A number typed to fill the field (0812-3456-7890, 0811-1111-1111): the server holds its SMS; say so before saving.
  const phoneNow = checks?.normalizePhone(form.phone, 'phone');
  const placeholder = !!checks && !!phoneNow?.ok && phoneNow.e164 !== null && checks.isPlaceholderPhone(phoneNow.e164);
  const refused = outcome?.kind === 'rejected' && refusal ? refusal : null;
  const refusedDose = refused?.doses?.find((d) => d.doseNumber === n);
  const identityErrors: Partial<Record<IdField, string>> = {};
  for (const f of ['nik', 'passport', 'country', 'motherNik'] as const) {
    const e = shown(f);
    if (e.length > 0) identityErrors[f] = e.join(' ');
  }
  return (
    <>
      <h1>{t('title')}</h1>
      <p class="lead">{t('intro')}</p>
      <div ref={resultRef} tabIndex={-1} aria-live="polite">
        {fixing?.error && (
          <Notice kind="warn">
            {t('rejected')} {fixing.error.message}
          </Notice>
        )}
        {outcome?.kind === 'waiting' && (
          <Notice kind="info">
            <span data-testid="saved-offline">{outcome.offline ? t('savedOffline') : t('savedLater')}</span>
          </Notice>
        )}
        {outcome?.kind === 'rejected' && refused && (
          <Notice kind="error">
            <span data-testid="refused-duplicate">
              {refusedDose
                ? t('refusedDuplicate', doseWords(refusedDose))
                : outcome.error.code === 'dose_already_recorded'
                  ? t('refusedDuplicate', { n, date: formatDate(form.date, lang), vaccine: vaccineName(form.vaccine, form.date) })
                  : t('refusedConflict')}
            </span>{' '}
            {refusedDose?.certificateLink && (
              <a href={refusedDose.certificateLink} target="_blank" rel="noopener noreferrer" data-testid="refused-certificate">
                {t('openCertificate')}
              </a>
            )}
            {refusedDose?.certificateLink && ' · '}
            <a
              href={`/console/people/${encodeURIComponent(refused.personId)}`}
              data-testid="refused-person"
              onClick={(e) => {
                e.preventDefault();
                props.navigate(`/console/people/${encodeURIComponent(refused.personId)}`);
              }}
            >
              {t('openPerson')}
            </a>
          </Notice>
        )}
        {outcome?.kind === 'rejected' && !refused && (
          <Notice kind="error">
            <span data-testid="rejected">
              {t('rejected')} {inWords({ path: '', code: outcome.error.code, message: { id: outcome.error.message, en: outcome.error.message } }, t, lang)}
            </span>
            {outcome.error.fields.length > 0 && (
              <ul>
                {outcome.error.fields.map((f) => (
                  <li key={f.path}>
                    <strong>{labelOfPath(f.path, form.idType, t, tl)}</strong>: {inWords({ path: f.path, code: f.code ?? '', message: { id: f.message, en: f.message } }, t, lang)}
                  </li>
                ))}
              </ul>
            )}
          </Notice>
        )}
      </div>
      <form class="record-form" onSubmit={(e) => void submit(e)} noValidate aria-busy={busy}>
        {/* Nothing can be typed while an entry is being saved: the form is reset for the next person after it. */}
        <fieldset class="plain" disabled={busy}>
        {user.role !== 'facility' && (
          <fieldset class="card">
            <legend>{t('facility')}</legend>
            {field('facility', t('facility'), (invalid, describedBy) =>
              facilities.length > 0 ? (
                <select id="f-facility" name="facility" value={form.facility} aria-invalid={invalid ? 'true' : 'false'} aria-describedby={describedBy} onChange={(e) => set('facility', e.currentTarget.value)} onBlur={() => touch('facility')}>
                  <option value="">{t('facilityChoose')}</option>
                  {facilities.map((f) => (
                    <option key={f.code} value={f.code}>
                      {f.name} ({f.code})
                    </option>
                  ))}
                </select>
              ) : (
                text('facility', { autoCapitalize: 'characters' })(invalid, describedBy)
              ),
            )}
          </fieldset>
        )}
        <fieldset class="card">
          <legend>{t('person')}</legend>
          <IdentityFields
            prefix="f-"
            values={form}
            onChange={(v) => setForm((old) => ({ ...old, ...v }))}
            bad={{}}
            errors={identityErrors}
            onBlur={touch}
          />
          <div class="lookup" aria-live="polite" data-testid="lookup">
            {person === 'looking' && <span class="hint">{t('lookingUp')}</span>}
            {person === 'none' && <span class="hint">{t('notKnown')}</span>}
            {person !== null && typeof person === 'object' && (
              <Notice kind="info">
                {person.masked ? t('knownMasked', { doses: person.doses }) : t('known', { name: person.name, doses: person.doses })}
                {onRecord && onRecord.length > 0 && (
                  <>
                    {' '}
                    {t('onRecord')}
                    <ul data-testid="doses-on-record">
                      {onRecord.map((d) => (
                        <li key={d.doseNumber}>{t('doseLine', doseWords(d))}</li>
                      ))}
                    </ul>
                  </>
                )}
              </Notice>
            )}
            {filledFromNik && <span class="hint">{t('fromNik')}</span>}
          </div>
          {field('name', form.idType === 'mother-nik' ? tl('portal.childName') : t('name'), text('name', { autoComplete: 'off', maxLength: 200 }))}
          <div class="field-row">
            {field('birthDate', t('birthDate'), text('birthDate', { type: 'date', max: today }))}
            {field('sex', t('sex'), (invalid, describedBy) => (
              <div class="segmented" role="radiogroup" aria-labelledby="sex-legend" aria-describedby={describedBy} aria-invalid={invalid ? 'true' : 'false'} id="f-sex">
                <span id="sex-legend" class="visually-hidden">
                  {t('sex')}
                </span>
                {(['M', 'F'] as const).map((s) => (
                  <label key={s} class={form.sex === s ? 'on' : ''}>
                    <input type="radio" name="sex" value={s} checked={form.sex === s} onChange={() => (set('sex', s), touch('sex'))} />
                    {s === 'M' ? t('male') : t('female')}
                  </label>
                ))}
              </div>
            ))}
          </div>
          {field('phone', t('phone'), text('phone', { type: 'tel', inputMode: 'tel', autoComplete: 'off' }), t('phoneHint'), placeholder ? t('placeholderPhone') : undefined)}
        </fieldset>
        <fieldset class="card">
          <legend>{t('dose')}</legend>
          {field('vaccine', t('vaccine'), (invalid, describedBy) => (
            <select id="f-vaccine" name="vaccine" value={form.vaccine} aria-invalid={invalid ? 'true' : 'false'} aria-describedby={describedBy} onChange={(e) => (set('vaccine', e.currentTarget.value), touch('vaccine'))}>
              <option value="">{t('vaccineChoose')}</option>
              {vaccines.map((v) => (
                <option key={v.code} value={v.code}>
                  {v.name} ({v.manufacturer})
                </option>
              ))}
            </select>
          ))}
          <div class="field-row">
            {field('doseNumber', t('doseNumber'), (invalid, describedBy) => (
              <select id="f-doseNumber" name="doseNumber" value={form.doseNumber} aria-invalid={invalid ? 'true' : 'false'} aria-describedby={describedBy} onChange={(e) => set('doseNumber', e.currentTarget.value)}>
                {[1, 2, 3, 4, 5].map((d) => (
                  <option key={d} value={String(d)}>
                    {d}
                  </option>
                ))}
              </select>
            ))}
            {field('date', t('date'), text('date', { type: 'date', max: today }))}
          </div>
          {doses !== null && n > doses + 1 && (
            <Notice kind="warn">
              <span data-testid="prior-missing">{t('priorMissing', { doses })}</span>
            </Notice>
          )}
          {doses !== null && n <= doses && !sameNumber && <Notice kind="warn">{t('alreadyHas', { doses, n })}</Notice>}
          {field('lot', t('lot'), text('lot', { autoComplete: 'off', maxLength: 50, autoCapitalize: 'characters' }))}
        </fieldset>
        {sameNumber && (
          <Notice kind="warn">
            <span data-testid="duplicate-warning">{t('duplicateWarn', doseWords(sameNumber))}</span>
          </Notice>
        )}
        {submitted && (!validation.ok || byField.has('facility')) && <Notice kind="error">{t('fixFirst')}</Notice>}
        <button type="submit" class="button block" disabled={busy || !checks} data-testid="submit-dose">
          {busy ? t('sending') : online ? t('submit') : t('submitOffline')}
        </button>
        </fieldset>
      </form>
    </>
  );
}

/** A recorded dose: its certificate's QR, facts, the certificate page, and the SMS. */
export function Result(props: { answer: DoseAnswer; t: (k: keyof typeof id, v?: Record<string, string | number>) => string; lang: 'id' | 'en' }): VNode {
  const { answer: a, t, lang } = props;
  const vaccine = listVaccines(a.vaccination.date).find((v) => v.code === a.vaccination.vaccine);
  const cert = a.certificate;
  const facts: [string, VNode | string][] = [
    [t('name'), a.person.name],
    [t('vaccine'), vaccine ? vaccine.name : a.vaccination.vaccine],
    [t('doseNumber'), String(a.vaccination.doseNumber)],
    [t('date'), formatDate(a.vaccination.date, lang)],
    ...(cert ? [[t('uvci'), <span class="mono" data-testid="uvci">{cert.uvci}</span>] as [string, VNode]] : []),
    ...(a.nextDose ? [[t('next'), t('nextText', { n: a.nextDose.doseNumber, date: formatDate(a.nextDose.due, lang) })] as [string, string]] : []),
  ];
  return (
    <article class="card result-card" data-testid="dose-result">
      <h2>{a.vaccination.status === 'claims_prior_dose' ? t('recordedClaims') : t('recorded')}</h2>
      {a.vaccination.held && (
        <p class="notice notice-warn" role="status" data-testid="dose-held">
          {t('heldIdentity')}
        </p>
      )}
      {a.phoneChange && (
        <p class="notice notice-info" role="status" data-testid="phone-change">
          {t('phoneChangePending')}
        </p>
      )}
      <div class="result-grid">
        {cert && (
          <div class="qr-box">
            <QrCode text={cert.qr} label={t('qrLabel')} />
          </div>
        )}
        <div>
          <Facts rows={facts} />
          {cert && a.person.id && <SmsStatus personId={a.person.id} certificateId={cert.id} />}
          {cert && (
            <p>
              <a class="button secondary block" href={cert.link} target="_blank" rel="noopener noreferrer">
                {t('openCertificate')}
              </a>
            </p>
          )}
        </div>
      </div>
    </article>
  );
}
