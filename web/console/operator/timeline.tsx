/**
 * /console/people/:id — a person's whole history on one screen, as
 * `GET /api/v1/people/{id}/timeline` answers it: each dose with its state in
 * words, then every event in time order (doses, certificates, every SMS with
 * its text and each gateway answer and report verbatim, cases, phone changes,
 * merges, audit entries). Actions: correct the phone, void a dose, merge
 * another record of the same person into this one — each shown only to the
 * roles the API lets do it.
 */
import { useState } from 'preact/hooks';
import type { PageProps } from '../pages.ts';
import { api, ApiError } from '../api.ts';
import { currentLang, useTexts } from '../../lib/lang.ts';
import { GLOSSARY as G, lower } from '../../lib/glossary.ts';
import type { Lang } from '../../lib/i18n.ts';
import type { ConsoleUser } from '../api.ts';
import { Link } from './link.tsx';
import { Action, ErrorNotice, inLang, Load, may, useApi, When, asApiError, withQuery, type DoseState, type PersonSummary, type Timeline, type TimelineEvent } from './common.tsx';
import { caseInWords, caseKindName, day, listNumbers, missingDoses, vaccineName } from './words.ts';

const T = {
  id: {
    title: 'Riwayat',
    notFoundTitle: 'Orang tidak ditemukan',
    reveal: 'Tampilkan NIK, nomor HP dan tautan lengkap (tercatat di log audit)',
    identifier: 'Identitas',
    birthDate: 'Tanggal lahir',
    phone: 'Nomor HP',
    phoneStatus: 'status: {s}',
    mergedInto: 'Data ini sudah digabung ke data lain.',
    openMerged: 'Buka data gabungan',
    mergedFrom: 'Data lain yang digabung ke sini: {n}',
    doses: 'Dosis',
    noDoses: 'Belum ada dosis.',
    dose: 'Dosis {n}',
    events: 'Semua kejadian ({n})',
    show: 'Tampilkan',
    all: 'Semua',
    catDose: 'Dosis dan sertifikat',
    catSms: 'SMS',
    catCase: 'Kasus',
    catChange: 'Perubahan',
    catAudit: 'Akses (audit)',
    colAt: 'Waktu',
    colWhat: 'Kejadian',
    colWho: 'Oleh',
    colDetail: 'Rincian',
    system: 'sistem',
    actions: 'Tindakan',
    correctPhone: 'Perbaiki nomor HP',
    newPhone: 'Nomor HP baru',
    phoneHint: `${G.id['phone.anyFormat']}: 0812…, +62 812…, 62812…`,
    confirmPhone: 'Nomor HP {name} diganti; SMS sertifikat yang belum diterima dikirim lagi ke nomor baru.',
    phoneDone: 'Nomor diganti ke {phone}; {n} SMS dikirim lagi.',
    void: 'Batalkan dosis',
    reason: 'Alasan (min. 3 karakter)',
    confirmVoid: 'Dosis {n} ({date}) akan dibatalkan dan sertifikatnya dicabut; setelah itu pemeriksa akan menolak sertifikat tersebut.',
    voidDone: 'Dosis dibatalkan; {n} sertifikat dicabut.',
    merge: 'Gabungkan data lain orang ini ke sini',
    mergeWhich: 'NIK atau id data yang lain',
    find: 'Cari data itu',
    mergeNone: 'Tidak ada data dengan NIK atau id itu di wilayah kerja Anda.',
    mergeSame: 'Itu data ini sendiri.',
    mergeCandidate: '{name}, lahir {birth}, {doses} dosis ({id})',
    mergeGo: 'Gabungkan',
    confirmMerge: 'Dosis {name} dari data itu dipindah ke sini dan dinomori ulang; semua sertifikat diterbitkan ulang (yang lama diganti) dan satu SMS baru dikirim. Tidak dapat dibatalkan.',
    mergeDone: 'Digabung: sekarang {n} dosis, {s} sertifikat lama diganti.',
    technical: 'Rincian teknis',
    openCases: 'Kasus terbuka',
    missingTitle: 'Dosis {n} belum tercatat — kasus terbuka sejak {since}',
    missingWhat: 'Dosis {dose} ({vaccine}, {date}) dicatat oleh {facility}, tetapi dosis {n} tidak ada di data ini.',
    missingConfirm: 'Konfirmasi dengan bukti',
    missingEvidence: 'Bukti (mis. kartu vaksin dilihat)',
    missingConfirmText: 'Dosis {dose} akan diterima sebagai tercatat berdasarkan bukti itu, dan kasus ditutup.',
    matches: 'Data yang mungkin sama (nama dan tanggal lahir sama, identitas lain)',
    noMatches: 'Tidak ada data lain dengan nama dan tanggal lahir yang sama di wilayah kerja Anda.',
    matchWho: '{name}, lahir {birth} · {identifier}',
    matchDose: 'Dosis {n} · {vaccine} · {date} · {facility}',
    matchOpen: 'Buka riwayat data ini',
    link: 'Tautkan data ini',
    linkConfirm: 'Data ini akan digabung ke {name}: dosisnya dipindah dan dinomori ulang, sertifikat diterbitkan ulang, dan satu SMS baru dikirim. Tidak dapat dibatalkan.',
    linkBySupport: 'Menautkan data dilakukan oleh Layanan Bantuan: sebutkan data yang cocok kepada mereka.',
    askFacility: 'Tanyakan ke fasyankes',
    askNoPhone: 'tidak ada nomor telepon tercatat',
    otherCase: 'Buka di daftar kerja',
    doseAt: 'dicatat oleh {facility}',
  },
  en: {
    title: 'Timeline',
    notFoundTitle: 'Person not found',
    reveal: 'Show the NIK, phone number and links in full (recorded in the audit log)',
    identifier: 'Identifier',
    birthDate: 'Birth date',
    phone: 'Phone',
    phoneStatus: 'status: {s}',
    mergedInto: 'This record was merged into another one.',
    openMerged: 'Open the merged record',
    mergedFrom: 'Other records merged into this one: {n}',
    doses: 'Doses',
    noDoses: 'No doses yet.',
    dose: 'Dose {n}',
    events: 'Every event ({n})',
    show: 'Show',
    all: 'All',
    catDose: 'Doses and certificates',
    catSms: 'SMS',
    catCase: 'Cases',
    catChange: 'Changes',
    catAudit: 'Access (audit)',
    colAt: 'Time',
    colWhat: 'Event',
    colWho: 'By',
    colDetail: 'Detail',
    system: 'system',
    actions: 'Actions',
    correctPhone: 'Correct the phone number',
    newPhone: 'New phone number',
    phoneHint: `${G.en['phone.anyFormat']}: 0812…, +62 812…, 62812…`,
    confirmPhone: "{name}'s phone number is replaced; certificate SMS not yet delivered are sent again to the new number.",
    phoneDone: 'Number changed to {phone}; {n} SMS sent again.',
    void: 'Void this dose',
    reason: 'Reason (at least 3 characters)',
    confirmVoid: 'Dose {n} ({date}) will be voided and its certificate revoked; verifiers will then reject that certificate.',
    voidDone: 'Dose voided; {n} certificate(s) revoked.',
    merge: "Merge another record of this person into this one",
    mergeWhich: "The other record's NIK or id",
    find: 'Find that record',
    mergeNone: 'No record with that NIK or id within your scope.',
    mergeSame: 'That is this record itself.',
    mergeCandidate: '{name}, born {birth}, {doses} dose(s) ({id})',
    mergeGo: 'Merge',
    confirmMerge: "{name}'s doses from that record move here and are renumbered; every certificate is re-issued (the old ones superseded) and one new SMS is sent. This cannot be undone.",
    mergeDone: 'Merged: now {n} doses, {s} old certificate(s) superseded.',
    technical: 'Technical detail',
    openCases: 'Open cases',
    missingTitle: 'Dose {n} is not on record — case open since {since}',
    missingWhat: 'Dose {dose} ({vaccine}, {date}) was recorded by {facility}, but dose {n} is not in this record.',
    missingConfirm: 'Confirm with evidence',
    missingEvidence: 'Evidence (e.g. vaccination card seen)',
    missingConfirmText: 'Dose {dose} will be accepted as recorded on that evidence, and the case closed.',
    matches: 'Records that may be the same person (same name and birth date, another identifier)',
    noMatches: 'No other record with the same name and birth date within your scope.',
    matchWho: '{name}, born {birth} · {identifier}',
    matchDose: 'Dose {n} · {vaccine} · {date} · {facility}',
    matchOpen: "Open this record's timeline",
    link: 'Link this record',
    linkConfirm: 'This record will be merged into {name}: its doses move and are renumbered, certificates are re-issued and one new SMS is sent. This cannot be undone.',
    linkBySupport: 'Linking records is done by the help desk: tell them which record matches.',
    askFacility: 'Ask the facility',
    askNoPhone: 'no phone number on record',
    otherCase: 'Open on the work list',
    doseAt: 'recorded by {facility}',
  },
};

type Key = keyof typeof T.id;

/** What each event type is called, per language. */
const EVENT_NAMES: Record<string, { id: string; en: string }> = {
  dose_recorded: { id: 'Dosis dicatat', en: 'Dose recorded' },
  certificate_issued: { id: 'Sertifikat terbit', en: 'Certificate issued' },
  certificate_superseded: { id: 'Sertifikat diganti', en: 'Certificate superseded' },
  certificate_revoked: { id: 'Sertifikat dicabut', en: 'Certificate revoked' },
  certificate_held: { id: 'Sertifikat ditahan (nama tidak cocok)', en: 'Certificate held (name mismatch)' },
  identity_confirmed: { id: 'Nama dikonfirmasi', en: 'Name confirmed' },
  identity_rejected: { id: 'Bukan orang ini: dosis dibatalkan', en: 'Not this person: dose voided' },
  phone_change_confirmed: { id: 'Nomor HP baru dikonfirmasi', en: 'New phone confirmed' },
  phone_change_rejected: { id: 'Nomor HP baru ditolak', en: 'New phone rejected' },
  sms: { id: 'SMS dibuat', en: 'SMS created' },
  sms_created: { id: `SMS ${lower(G.id['sms.queued'])}`, en: `SMS ${lower(G.en['sms.queued'])}` },
  sms_held: { id: 'SMS ditahan', en: 'SMS held' },
  sms_submitted: { id: `SMS ${lower(G.id['sms.submitted'])}`, en: `SMS ${lower(G.en['sms.submitted'])}` },
  sms_send_failed: { id: 'SMS gagal dikirim ke operator seluler', en: 'The mobile operator refused the SMS' },
  sms_report: { id: 'Laporan pengiriman', en: 'Delivery report' },
  sms_timeout: { id: 'Tidak ada laporan (batas waktu)', en: 'No report in time' },
  sms_retry_scheduled: { id: 'Dijadwalkan kirim ulang', en: 'Retry scheduled' },
  sms_retry: { id: 'Kirim ulang', en: 'Retry' },
  sms_gave_up: { id: 'Pengiriman dihentikan', en: 'Gave up' },
  sms_cancelled: { id: 'SMS dibatalkan', en: 'SMS cancelled' },
  case_opened: { id: 'Kasus dibuka', en: 'Case opened' },
  case_resolved: { id: 'Kasus selesai', en: 'Case resolved' },
  case_dismissed: { id: 'Kasus ditutup', en: 'Case dismissed' },
  phone_changed: { id: 'Nomor HP berubah', en: 'Phone changed' },
  phone_corrected: { id: 'Nomor HP diperbaiki', en: 'Phone corrected' },
  people_merged: { id: 'Data digabung ke sini', en: 'Records merged here' },
  merged_into: { id: 'Digabung ke data lain', en: 'Merged into another record' },
  vaccination_voided: { id: 'Dosis dibatalkan', en: 'Dose voided' },
  prior_dose_confirmed: { id: 'Dosis sebelumnya dikonfirmasi', en: 'Earlier dose confirmed' },
  person_viewed: { id: 'Riwayat dibuka', en: 'Timeline viewed' },
  person_viewed_revealed: { id: 'Riwayat dibuka (lengkap)', en: 'Timeline viewed (unmasked)' },
  identifiers_revealed: { id: 'Identitas ditampilkan', en: 'Identifiers revealed' },
  health_card_issued: { id: 'Kartu SMART diterbitkan', en: 'SMART card issued' },
};

type Category = 'dose' | 'sms' | 'case' | 'change' | 'audit';

function categoryOf(type: string): Category {
  if (type === 'dose_recorded' || type.startsWith('certificate_') || type === 'vaccination_voided' || type === 'prior_dose_confirmed') return 'dose';
  if (type === 'sms' || type.startsWith('sms_')) return 'sms';
  if (type.startsWith('case_')) return 'case';
  if (type.startsWith('person_viewed') || type === 'identifiers_revealed') return 'audit';
  return 'change';
}

/** The fields of an event worth reading, as label/value pairs (ids shortened, raw texts whole). */
function details(e: TimelineEvent): [string, string][] {
  const skip = new Set(['at', 'type', 'actor']);
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(e)) {
    if (skip.has(k) || v === null || v === undefined || v === '') continue;
    out.push([k, typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v)]);
  }
  return out;
}

export function TimelinePage(props: PageProps) {
  const id = props.params.id ?? '';
  // Support reads identifiers masked unless it asks for them whole, which the API audits.
  const reveal = props.user.role === 'support' && props.query.get('reveal') === 'true';
  const tl = useApi<Timeline>(`/api/v1/people/${encodeURIComponent(id)}/timeline${reveal ? '?reveal=true' : ''}`);
  const t = useTexts(T);
  if (tl.error?.status === 404)
    return (
      <section class="op-page" data-testid="person-not-found">
        <h1>{t('notFoundTitle')}</h1>
        <ErrorNotice error={tl.error} />
      </section>
    );
  return <Load l={tl}>{(data) => <TimelineView {...props} data={data} reload={tl.reload} />}</Load>;
}

function TimelineView(props: PageProps & { data: Timeline; reload: () => void }) {
  const t = useTexts(T);
  const { person, doses, events } = props.data;
  const [show, setShow] = useState<Category | 'all'>('all');
  const user = props.user;
  const lang = currentLang();
  const lines = storyOf(events, doses, lang);
  const shown = show === 'all' ? lines : lines.filter((l) => l.category === show);
  const open = openCases(events);
  return (
    <section class="op-page" aria-labelledby="op-person-name">
      <p class="op-kicker">{t('title')}</p>
      <h1 id="op-person-name">{person.name}</h1>
      {props.user.role === 'support' && props.query.get('reveal') !== 'true' && (
        <p>
          <Link to={`/console/people/${person.id}?reveal=true`} navigate={props.navigate}>
            {t('reveal')}
          </Link>
        </p>
      )}
      {open.length > 0 && !person.mergedInto && <OpenCases {...props} cases={open} doses={doses} />}
      <dl class="facts card" data-testid="person-facts">
        <div class="fact">
          <dt>{t('identifier')}</dt>
          <dd class="mono" data-testid="person-identifier">
            {person.identifier.type === 'nik' ? '' : `${person.identifier.type} `}
            {person.identifier.value}
          </dd>
        </div>
        <div class="fact">
          <dt>{t('birthDate')}</dt>
          <dd>{day(person.birthDate, lang)}</dd>
        </div>
        <div class="fact">
          <dt>{t('phone')}</dt>
          <dd>
            <span class="mono" data-testid="person-phone">
              {person.phone ?? '—'}
            </span>{' '}
            <span class="hint">{t('phoneStatus', { s: person.phoneStatus })}</span>
          </dd>
        </div>
      </dl>
      {person.mergedInto && (
        <p class="notice notice-warn">
          {t('mergedInto')}{' '}
          <Link to={`/console/people/${person.mergedInto}`} navigate={props.navigate}>
            {t('openMerged')}
          </Link>
        </p>
      )}
      {person.mergedFrom.length > 0 && <p class="hint">{t('mergedFrom', { n: person.mergedFrom.length })}</p>}

      <h2>{t('doses')}</h2>
      {doses.length === 0 ? (
        <p>{t('noDoses')}</p>
      ) : (
        <ol class="op-doses" data-testid="doses">
          {doses.map((d) => (
            <li class={`card op-dose op-dose-${d.state}`} key={d.vaccinationId} data-state={d.state}>
              <h3>
                {t('dose', { n: d.doseNumber })} · {vaccineName(d.vaccine)} · {day(d.date, lang)}
              </h3>
              <p class="op-dose-state">{inLang(d.text)}</p>
              {d.satusehat && (
                <p class="op-dose-sync" data-testid="dose-satusehat" data-sync={d.satusehat.state}>
                  {inLang(d.satusehat.text)}
                </p>
              )}
              {d.facility && <p class="hint">{t('doseAt', { facility: d.facilityName ? `${d.facilityName} (${d.facility})` : d.facility })}</p>}
              {mayVoid(user, d) && !person.mergedInto && (
                <Action
                  label={t('void')}
                  danger
                  fields={[{ name: 'reason', label: t('reason'), minLength: 3 }]}
                  confirm={t('confirmVoid', { n: d.doseNumber, date: day(d.date, lang) })}
                  run={(v) => api('POST', `/api/v1/vaccinations/${d.vaccinationId}/void`, { reason: v.reason ?? '' })}
                  done={(a) => t('voidDone', { n: (a as { revoked: string[] }).revoked.length })}
                  onDone={props.reload}
                />
              )}
            </li>
          ))}
        </ol>
      )}

      {!person.mergedInto && (
        <>
          <h2>{t('actions')}</h2>
          <div class="op-actions">
            <Action
              label={t('correctPhone')}
              fields={[{ name: 'phone', label: t('newPhone'), type: 'tel', hint: t('phoneHint') }]}
              confirm={t('confirmPhone', { name: person.name })}
              run={(v) => api('POST', `/api/v1/people/${person.id}/phone`, { phone: v.phone ?? '' })}
              done={(a) => t('phoneDone', { phone: (a as { phone: string }).phone, n: (a as { resent: string[] }).resent.length })}
              onDone={props.reload}
            />
            {may(user, ['support', 'admin']) && <MergeInto person={person} t={t} onDone={props.reload} />}
          </div>
        </>
      )}

      <h2>{t('events', { n: lines.length })}</h2>
      <div class="field op-inline">
        <label class="label" for="op-events-show">
          {t('show')}
        </label>
        <select id="op-events-show" value={show} onChange={(e) => setShow((e.target as HTMLSelectElement).value as Category | 'all')}>
          <option value="all">{t('all')}</option>
          <option value="dose">{t('catDose')}</option>
          <option value="sms">{t('catSms')}</option>
          <option value="case">{t('catCase')}</option>
          <option value="change">{t('catChange')}</option>
          <option value="audit">{t('catAudit')}</option>
        </select>
      </div>
      <ol class="op-events" data-testid="events">
        {shown.map((l, i) => (
          <li class={`op-event op-cat-${l.category}`} key={`${l.at}-${l.type}-${i}`} data-type={l.type}>
            <div class="op-event-head">
              <strong>{l.title}</strong> <When at={l.at} /> <span class="hint">{l.actor ?? t('system')}</span>
            </div>
            {l.sub && <p class="op-event-sub">{l.sub}</p>}
            {l.text && <blockquote class="op-sms-text">{l.text}</blockquote>}
            <details class="op-tech">
              <summary>{t('technical')}</summary>
              <ol class="op-steps">
                {l.events.map((e, j) => (
                  <li key={j} data-type={e.type}>
                    <span class="mono">{e.type}</span> <When at={e.at} />
                    {typeof e.raw === 'string' && <pre class="op-raw">{e.raw}</pre>}
                    <dl class="op-kv">
                      {details(e)
                        .filter(([k]) => k !== 'text' && k !== 'raw')
                        .map(([k, v]) => (
                          <div key={k}>
                            <dt>{k}</dt>
                            <dd>{v}</dd>
                          </div>
                        ))}
                    </dl>
                  </li>
                ))}
              </ol>
            </details>
          </li>
        ))}
      </ol>
    </section>
  );
}

/** Whether the server would let `user` void dose `d` (cases.ts → operations.ts voidVaccination): support and admin any dose, a facility only its own. */
function mayVoid(user: ConsoleUser, d: DoseState): boolean {
  if (d.state === 'void') return false;
  if (may(user, ['support', 'admin'])) return true;
  return user.role === 'facility' && d.facility !== undefined && d.facility === user.facilityCode;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Merge: find the other record (by NIK, or by id), show who it is, then confirm. */
function MergeInto(props: { person: Timeline['person']; t: (k: Key, v?: Record<string, string | number>) => string; onDone: () => void }) {
  const { t } = props;
  const [open, setOpen] = useState(false);
  const [which, setWhich] = useState('');
  const [candidate, setCandidate] = useState<PersonSummary | { id: string; name: string; birthDate: string; doses: number } | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const find = async (e: Event): Promise<void> => {
    e.preventDefault();
    setError(null);
    setCandidate(null);
    const w = which.trim();
    try {
      if (UUID.test(w)) {
        const other = await api<Timeline>('GET', `/api/v1/people/${w}/timeline`);
        setCandidate({ id: other.person.id, name: other.person.name, birthDate: other.person.birthDate, doses: other.doses.filter((d) => d.state !== 'void').length });
      } else {
        const r = await api<{ people: PersonSummary[] }>('GET', withQuery('/api/v1/people', { nik: w }));
        const p = r.people[0];
        if (!p) throw new ApiError(404, 'not_found', t('mergeNone'));
        setCandidate(p);
      }
    } catch (err) {
      setError(asApiError(err));
    }
  };
  if (!open)
    return (
      <button type="button" class="button secondary small" onClick={() => setOpen(true)}>
        {t('merge')}
      </button>
    );
  return (
    <div class="card op-merge">
      <form onSubmit={(e) => void find(e)} aria-label={t('merge')}>
        <label class="field">
          <span class="label">{t('mergeWhich')}</span>
          <input name="other" required value={which} onInput={(e) => setWhich((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit" class="button secondary small">
          {t('find')}
        </button>
      </form>
      {error && <ErrorNotice error={error} />}
      {candidate && candidate.id === props.person.id && <p class="notice notice-warn">{t('mergeSame')}</p>}
      {candidate && candidate.id !== props.person.id && (
        <>
          <p data-testid="merge-candidate">{t('mergeCandidate', { name: candidate.name, birth: candidate.birthDate, doses: candidate.doses, id: candidate.id })}</p>
          <Action
            label={t('mergeGo')}
            danger
            confirm={t('confirmMerge', { name: candidate.name })}
            run={() => api('POST', `/api/v1/people/${props.person.id}/merge`, { from: candidate.id })}
            done={(a) => t('mergeDone', { n: (a as { doses: unknown[] }).doses.length, s: (a as { superseded: number }).superseded })}
            onDone={props.onDone}
          />
        </>
      )}
    </div>
  );
}

/** One line of the story: an event in words, or an SMS with all its events under it. */
interface Line {
  at: string;
  type: string;
  category: Category;
  title: string;
  sub: string | null;
  /** An SMS's text (the link masked unless revealed). */
  text: string | null;
  actor: string | null;
  /** The events behind the line, shown under "technical detail". */
  events: TimelineEvent[];
}

const s = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' ? String(v) : '');

/** What the person got, by SMS kind. */
const SMS_KINDS: Record<string, Record<Lang, string>> = {
  certificate: { id: 'SMS sertifikat', en: 'Certificate SMS' },
  reminder: { id: 'SMS pengingat dosis berikutnya', en: 'Next-dose reminder SMS' },
  recall: { id: 'SMS penarikan', en: 'Recall SMS' },
  code: { id: 'SMS kode', en: 'Code SMS' },
  correction: { id: 'SMS ganti nomor', en: 'Phone change SMS' },
  dose_request: { id: 'SMS laporan dosis hilang', en: 'Missing-dose report SMS' },
  phone_replaced: { id: 'SMS pemberitahuan nomor diganti', en: 'Number replaced notice SMS' },
};

/** Where an SMS ended (or stands), in words. */
function smsState(status: string, holdReason: string, lang: Lang): string {
  const id = lang === 'id';
  switch (status) {
    case 'pending':
    case 'queued':
      return id ? 'menunggu dikirim' : 'waiting to be sent';
    case 'submitted':
      return id ? 'terkirim, belum ada laporan diterima' : 'sent, no delivery report yet';
    case 'unknown':
      return id ? 'terkirim, tidak ada laporan diterima' : 'sent, no delivery report came';
    case 'delivered':
      return id ? 'diterima di HP' : 'delivered to the phone';
    case 'held':
      return id ? `ditahan${holdReason ? ` (${holdReason})` : ''}` : `held${holdReason ? ` (${holdReason})` : ''}`;
    case 'cancelled':
      return id ? 'dibatalkan' : 'cancelled';
    default:
      return id ? `gagal (${status})` : `failed (${status})`;
  }
}

/**
 * The events told as people say them: each dose, certificate, case and change
 * in a sentence with the vaccine's name and local dates; every SMS one line
 * (what it was, to whom, where it ended) with its gateway answers and reports
 * under it; the raw fields of each kept for the technical view.
 */
function storyOf(events: TimelineEvent[], doses: DoseState[], lang: Lang): Line[] {
  const id = lang === 'id';
  const doseNo = new Map(doses.map((d) => [d.vaccinationId, d.doseNumber]));
  const facilityName = new Map(doses.map((d) => [d.facility ?? '', d.facilityName ?? d.facility ?? '']));
  const where = (code: unknown): string => facilityName.get(s(code)) || s(code);
  const ofDose = (vaccinationId: unknown): string => {
    const n = doseNo.get(s(vaccinationId));
    return n === undefined ? '' : id ? ` dosis ${n}` : ` for dose ${n}`;
  };
  const lines: Line[] = [];
  const sms = new Map<string, Line>();
  for (const e of events) {
    const category = categoryOf(e.type);
    const line: Line = { at: e.at, type: e.type, category, title: inLang(EVENT_NAMES[e.type] ?? { id: e.type, en: e.type }), sub: null, text: null, actor: e.actor, events: [e] };
    if (category === 'sms' && typeof e.notificationId === 'string') {
      const group = sms.get(e.notificationId);
      if (group) {
        group.events.push(e);
        if (e.type === 'sms') Object.assign(group, smsLine(e, lang), { type: 'sms' });
        continue;
      }
      sms.set(e.notificationId, line);
      if (e.type === 'sms') Object.assign(line, smsLine(e, lang));
      else line.title = 'SMS';
      line.type = 'sms';
      lines.push(line);
      continue;
    }
    switch (e.type) {
      case 'dose_recorded':
        line.title = id ? `Dosis ${s(e.doseNumber)} dicatat: ${vaccineName(e.vaccine)}, ${day(e.date, lang)}` : `Dose ${s(e.doseNumber)} recorded: ${vaccineName(e.vaccine)}, ${day(e.date, lang)}`;
        line.sub =
          (id ? `di ${where(e.facility)}` : `at ${where(e.facility)}`) +
          (e.lot ? (id ? `, nomor batch ${s(e.lot)}` : `, batch ${s(e.lot)}`) : '') +
          (e.status === 'claims_prior_dose' ? (id ? ' · dosis sebelumnya belum tercatat' : ' · the earlier dose is not on record') : '');
        break;
      case 'certificate_issued':
        line.title = id ? `Sertifikat${ofDose(e.vaccinationId)} terbit` : `Certificate${ofDose(e.vaccinationId)} issued`;
        if (e.expiresAt) line.sub = id ? `berlaku sampai ${day(e.expiresAt, lang)}` : `valid until ${day(e.expiresAt, lang)}`;
        break;
      case 'certificate_superseded':
        line.title = id ? `Sertifikat${ofDose(e.vaccinationId)} diganti dengan yang baru` : `Certificate${ofDose(e.vaccinationId)} replaced by a new one`;
        break;
      case 'certificate_revoked':
        line.title = id ? `Sertifikat${ofDose(e.vaccinationId)} dicabut` : `Certificate${ofDose(e.vaccinationId)} revoked`;
        if (e.reason === 'dose_voided') line.sub = id ? 'karena dosisnya dibatalkan' : 'because its dose was voided';
        break;
      case 'certificate_held':
        line.title = id ? `Sertifikat${ofDose(e.vaccinationId)} ditahan: nama tidak cocok` : `Certificate${ofDose(e.vaccinationId)} held: the name did not match`;
        break;
      case 'case_opened':
        line.title = `${inLang(EVENT_NAMES.case_opened ?? { id: '', en: '' })}: ${caseKindName(s(e.kind), lang)}`;
        line.sub = caseInWords({ kind: s(e.kind), detail: (e.detail ?? {}) as Record<string, unknown>, facility: where(e.facility) || null }, lang);
        break;
      case 'case_resolved':
      case 'case_dismissed':
        line.title = `${inLang(EVENT_NAMES[e.type] ?? { id: '', en: '' })}: ${caseKindName(s(e.kind), lang)}`;
        line.sub = s(e.notes) || null;
        break;
      case 'vaccination_voided':
        line.title = inLang(EVENT_NAMES.vaccination_voided ?? { id: '', en: '' }) + (doseNo.has(s(e.subject)) ? ` (${id ? 'dosis' : 'dose'} ${doseNo.get(s(e.subject))})` : '');
        if (e.reason) line.sub = id ? `Alasan: ${s(e.reason)}` : `Reason: ${s(e.reason)}`;
        break;
      case 'prior_dose_confirmed':
        if (e.evidence) line.sub = id ? `Bukti: ${s(e.evidence)}` : `Evidence: ${s(e.evidence)}`;
        break;
    }
    lines.push(line);
  }
  // Events of one moment (a dose, its certificate, its case, its SMS) in the order they happen.
  const ORDER = ['dose_recorded', 'certificate_issued', 'case_opened', 'sms'];
  const step = (l: Line): number => (ORDER.includes(l.type) ? ORDER.indexOf(l.type) : ORDER.length);
  return lines.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : step(a) - step(b)));
}

/** An SMS's own line from its `sms` event: kind, recipient and where it ended; its text. */
function smsLine(e: TimelineEvent, lang: Lang): Pick<Line, 'title' | 'text' | 'at'> {
  const kind = SMS_KINDS[s(e.kind)]?.[lang] ?? 'SMS';
  const to = s(e.recipient);
  const state = smsState(s(e.status), s(e.holdReason), lang);
  return { at: e.at, title: `${kind}${to ? (lang === 'id' ? ` ke ${to}` : ` to ${to}`) : ''}: ${state}`, text: typeof e.text === 'string' ? e.text : null };
}

interface OpenCase {
  id: string;
  kind: string;
  detail: Record<string, unknown>;
  facility: string | null;
  openedAt: string;
}

/** The person's cases still open: opened and neither resolved nor dismissed (as the timeline tells them). */
function openCases(events: TimelineEvent[]): OpenCase[] {
  const closed = new Set(events.filter((e) => e.type === 'case_resolved' || e.type === 'case_dismissed').map((e) => s(e.caseId)));
  return events
    .filter((e) => e.type === 'case_opened' && typeof e.caseId === 'string' && !closed.has(e.caseId))
    .map((e) => ({ id: s(e.caseId), kind: s(e.kind), detail: (e.detail ?? {}) as Record<string, unknown>, facility: s(e.facility) || null, openedAt: e.at }));
}

interface Matches {
  matches: (PersonSummary & { doseList: { doseNumber: number; date: string; vaccine: string; status: string; facility: { code: string; name: string | null; phone: string | null } }[] })[];
  facilities: { code: string; name: string; phone: string | null }[];
}

/** A moment as its local date: "7 Desember 2026". */
function localDay(at: string, lang: Lang): string {
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? at : d.toLocaleDateString(lang === 'id' ? 'id-ID' : 'en-GB', { day: 'numeric', month: 'long', year: 'numeric' });
}

/** At the top of the person page: each open case in words; a missing earlier dose with its leads and actions. */
function OpenCases(props: PageProps & { data: Timeline; reload: () => void; cases: OpenCase[]; doses: DoseState[] }) {
  const t = useTexts(T);
  const lang = currentLang();
  const missing = props.cases.filter((c) => c.kind === 'claims_prior_dose');
  const others = props.cases.filter((c) => c.kind !== 'claims_prior_dose');
  return (
    <section class="op-open-cases" aria-label={t('openCases')} data-testid="open-cases">
      {missing.map((c) => (
        <MissingDose key={c.id} {...props} c={c} />
      ))}
      {others.length > 0 && (
        <ul class="notice notice-warn op-other-cases">
          {others.map((c) => (
            <li key={c.id} data-kind={c.kind}>
              <strong>{caseKindName(c.kind, lang)}</strong> · {localDay(c.openedAt, lang)}: {caseInWords(c, lang)}{' '}
              <Link to={`/console/work?kind=${c.kind}`} navigate={props.navigate}>
                {t('otherCase')}
              </Link>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function MissingDose(props: PageProps & { data: Timeline; reload: () => void; c: OpenCase; doses: DoseState[] }) {
  const t = useTexts(T);
  const lang = currentLang();
  const { c, data } = props;
  const found = useApi<Matches>(`/api/v1/people/${data.person.id}/matches`);
  const missing = listNumbers(missingDoses(c.detail), lang);
  const doseNumber = typeof c.detail.doseNumber === 'number' ? c.detail.doseNumber : null;
  const claiming = props.doses.find((d) => d.doseNumber === doseNumber && d.state !== 'void');
  const facilities = new Map<string, { code: string; name: string; phone: string | null }>();
  for (const f of found.data?.facilities ?? []) facilities.set(f.code, f);
  for (const m of found.data?.matches ?? []) for (const d of m.doseList) if (!facilities.has(d.facility.code)) facilities.set(d.facility.code, { code: d.facility.code, name: d.facility.name ?? d.facility.code, phone: d.facility.phone });
  const facilityName = (code: string | null | undefined): string => (code ? (facilities.get(code)?.name ?? code) : '');
  return (
    <div class="notice notice-warn op-missing" data-testid="missing-dose" data-case={c.id}>
      <h2>{t('missingTitle', { n: missing, since: localDay(c.openedAt, lang) })}</h2>
      {claiming && (
        <p>
          {t('missingWhat', { dose: claiming.doseNumber, vaccine: vaccineName(claiming.vaccine), date: day(claiming.date, lang), facility: facilityName(claiming.facility ?? c.facility), n: missing })}
        </p>
      )}
      <h3>{t('matches')}</h3>
      <Load l={found}>
        {({ matches }) =>
          matches.length === 0 ? (
            <p>{t('noMatches')}</p>
          ) : (
            <>
              <ul class="op-matches" data-testid="matches">
                {matches.map((m) => (
                  <li key={m.id} class="card" data-person={m.id}>
                    <p>
                      <strong>{t('matchWho', { name: m.name, birth: day(m.birthDate, lang), identifier: m.identifier.value })}</strong>
                    </p>
                    <ul>
                      {m.doseList.map((d, i) => (
                        <li key={i}>{t('matchDose', { n: d.doseNumber, vaccine: vaccineName(d.vaccine), date: day(d.date, lang), facility: d.facility.name ?? d.facility.code })}</li>
                      ))}
                    </ul>
                    <Link to={`/console/people/${m.id}`} navigate={props.navigate}>
                      {t('matchOpen')}
                    </Link>
                    {may(props.user, ['support', 'admin']) && (
                      <Action
                        label={t('link')}
                        confirm={t('linkConfirm', { name: data.person.name })}
                        run={() => api('POST', `/api/v1/cases/${c.id}/link`, { personId: m.id })}
                        onDone={props.reload}
                      />
                    )}
                  </li>
                ))}
              </ul>
              {!may(props.user, ['support', 'admin']) && <p class="hint">{t('linkBySupport')}</p>}
            </>
          )
        }
      </Load>
      <div class="op-actions">
        <Action
          label={t('missingConfirm')}
          fields={[{ name: 'evidence', label: t('missingEvidence'), minLength: 3 }]}
          confirm={t('missingConfirmText', { dose: doseNumber ?? '' })}
          run={(v) => api('POST', `/api/v1/cases/${c.id}/confirm`, { evidence: v.evidence ?? '' })}
          onDone={props.reload}
        />
      </div>
      {facilities.size > 0 && (
        <>
          <h3>{t('askFacility')}</h3>
          <ul class="op-ask" data-testid="ask-facility">
            {[...facilities.values()].map((f) => (
              <li key={f.code}>
                {f.name} ({f.code}):{' '}
                {f.phone ? (
                  <a href={`tel:${f.phone}`} class="mono">
                    {f.phone}
                  </a>
                ) : (
                  <span class="hint">{t('askNoPhone')}</span>
                )}
              </li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}
