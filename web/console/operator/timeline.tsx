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
import { useTexts } from '../../lib/lang.ts';
import { Link } from './link.tsx';
import { Action, ErrorNotice, inLang, Load, may, useApi, When, asApiError, withQuery, type PersonSummary, type Timeline, type TimelineEvent } from './common.tsx';

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
    phoneHint: 'Tulisan apa pun: 0812…, +62 812…, 62812…',
    confirmPhone: 'Nomor HP {name} diganti; SMS sertifikat yang belum diterima dikirim lagi ke nomor baru.',
    phoneDone: 'Nomor diganti ke {phone}; {n} SMS dikirim lagi.',
    void: 'Batalkan dosis',
    reason: 'Alasan (min. 3 karakter)',
    confirmVoid: 'Dosis {n} ({date}) dibatalkan dan sertifikatnya dicabut; pemeriksa akan menolaknya.',
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
    phoneHint: 'Any writing: 0812…, +62 812…, 62812…',
    confirmPhone: "{name}'s phone number is replaced; certificate SMS not yet delivered are sent again to the new number.",
    phoneDone: 'Number changed to {phone}; {n} SMS sent again.',
    void: 'Void this dose',
    reason: 'Reason (at least 3 characters)',
    confirmVoid: 'Dose {n} ({date}) is voided and its certificate revoked; verifiers will reject it.',
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
  sms_created: { id: 'SMS antre', en: 'SMS queued' },
  sms_held: { id: 'SMS ditahan', en: 'SMS held' },
  sms_submitted: { id: 'Diterima gateway', en: 'Accepted by the gateway' },
  sms_send_failed: { id: 'Gagal dikirim ke gateway', en: 'Gateway refused' },
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
  const shown = show === 'all' ? events : events.filter((e) => categoryOf(e.type) === show);
  const name = (type: string) => {
    const n = EVENT_NAMES[type];
    return n ? inLang(n) : type;
  };
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
          <dd>{person.birthDate}</dd>
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
                {t('dose', { n: d.doseNumber })} · {d.vaccine} · {d.date}
              </h3>
              <p class="op-dose-state">{inLang(d.text)}</p>
              {d.satusehat && (
                <p class="op-dose-sync" data-testid="dose-satusehat" data-sync={d.satusehat.state}>
                  {inLang(d.satusehat.text)}
                </p>
              )}
              {d.state !== 'void' && may(user, ['facility', 'support', 'admin']) && !person.mergedInto && (
                <Action
                  label={t('void')}
                  danger
                  fields={[{ name: 'reason', label: t('reason'), minLength: 3 }]}
                  confirm={t('confirmVoid', { n: d.doseNumber, date: d.date })}
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

      <h2>{t('events', { n: events.length })}</h2>
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
        {shown.map((e, i) => (
          <li class={`op-event op-cat-${categoryOf(e.type)}`} key={`${e.at}-${e.type}-${i}`} data-type={e.type}>
            <div class="op-event-head">
              <strong>{name(e.type)}</strong> <When at={e.at} /> <span class="hint">{e.actor ?? t('system')}</span>
            </div>
            {typeof e.text === 'string' && <blockquote class="op-sms-text">{e.text}</blockquote>}
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
    </section>
  );
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
