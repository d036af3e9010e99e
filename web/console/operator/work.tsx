/**
 * /console/work — the work lists: open cases by kind (`GET /api/v1/cases`)
 * with the action that settles each kind, and dead outbox jobs with replay.
 * Every action asks first, calls the existing API and shows its refusal as
 * it answered; the list reloads after a success.
 */
import { useState } from 'preact/hooks';
import { currentLang } from '../../lib/lang.ts';
import type { PageProps } from '../pages.ts';
import type { ConsoleUser } from '../api.ts';
import { api } from '../api.ts';
import { useTexts } from '../../lib/lang.ts';
import { Link } from './link.tsx';
import { formatRegionCode } from '../../../src/domain/regions.ts';
import { Action, Load, Loading, may, personIdOf, Tabs, useApi, useWorkCounts, When, withQuery, type CaseView, type DeadJob } from './common.tsx';
import { CASE_KIND_KEYS as KINDS, CASE_KIND_NAMES, caseInWords } from './words.ts';
type Tab = (typeof KINDS)[number] | 'dead_jobs';

const kindNames = (lang: 'id' | 'en') => Object.fromEntries(Object.entries(CASE_KIND_NAMES).map(([k, v]) => [k, v[lang]])) as Record<Tab, string>;

const T = {
  id: {
    ...kindNames('id'),
    title: 'Daftar kerja',
    lead: 'Kasus terbuka yang perlu ditangani, yang terlama di atas.',
    none: 'Tidak ada kasus terbuka jenis ini di wilayah kerja Anda.',
    more: 'Berikutnya',
    opened: 'Dibuka',
    facility: 'Fasyankes',
    region: 'Wilayah',
    confirm: 'Konfirmasi dengan bukti',
    evidence: 'Bukti (mis. kartu vaksin dilihat)',
    confirmConfirm: 'Dosis diterima sebagai tercatat, berdasarkan bukti fasyankes; kasus ditutup.',
    link: 'Tautkan data yang memuat dosis sebelumnya',
    linkWhich: 'NIK atau id data itu',
    linkNone: 'Tidak ada data dengan NIK atau id itu di wilayah kerja Anda.',
    confirmLink: 'Data itu digabung ke {name}: dosis dinomori ulang, sertifikat diterbitkan ulang, satu SMS baru.',
    merge: 'Gabungkan kedua data',
    confirmMerge: '{other} digabung ke {name}: dosis dipindah dan dinomori ulang, sertifikat diterbitkan ulang, satu SMS baru. Tidak dapat dibatalkan.',
    other: 'Data lain: {name}',
    correctPhone: 'Perbaiki nomor HP',
    newPhone: 'Nomor HP baru',
    confirmPhone: 'Nomor HP {name} diganti; SMS sertifikat yang belum diterima dikirim lagi.',
    phoneDone: 'Nomor diganti ke {phone}; {n} SMS dikirim lagi.',
    done: 'Selesai.',
    note: 'Dasar keputusan',
    identityConfirm: 'Benar orang ini',
    confirmIdentity: 'Dosis dicatat untuk {name}; sertifikat dan SMS-nya dikirim ke nomor yang tercatat.',
    identityWrong: 'Bukan orang ini: batalkan dosis',
    confirmWrong: 'Dosis dibatalkan; fasyankes mencatatnya lagi dengan identitas yang benar.',
    phoneConfirm: 'Konfirmasi nomor baru',
    confirmPhoneChange: 'Nomor HP {name} diganti ke nomor baru; nomor lama diberi tahu lewat SMS.',
    phoneReject: 'Tolak nomor baru',
    confirmPhoneReject: 'Nomor yang tercatat tetap dipakai.',
    phoneCode: 'Kirim kode ke nomor baru',
    confirmPhoneCode: 'Kode dikirim ke nomor baru; minta orangnya menyebutkan kode itu.',
    codeSent: 'Kode dikirim ke {phone}.',
    phoneVerify: 'Masukkan kode',
    code: 'Kode 6 angka',
    confirmPhoneVerify: 'Jika kodenya benar, nomor HP diganti; nomor lama diberi tahu lewat SMS.',
    settled: 'Selesai: {name}. Kasusnya ditutup.',
    job: 'Tugas #{id} · {kind}',
    attempts: '{n} percobaan',
    replay: 'Jalankan lagi',
    confirmReplay: 'Tugas ini dijalankan lagi dari awal.',
    replayAll: 'Jalankan lagi semua',
    confirmReplayAll: 'Semua {n} tugas gagal yang tampil dijalankan lagi.',
    replayed: '{n} tugas dijalankan lagi.',
    noJobs: 'Tidak ada tugas gagal.',
    technical: 'Rincian teknis',
    count: '{label} ({n})',
    sendAgain: 'Kirim lagi ke SATUSEHAT',
    confirmSendAgain: 'Dosis ini akan dikirim lagi ke SATUSEHAT. Perbaiki dulu datanya (NIK, tanggal, vaksin) bila itu sebabnya ditolak.',
  },
  en: {
    ...kindNames('en'),
    title: 'Work lists',
    lead: 'Open cases to handle, oldest first.',
    none: 'No open cases of this kind within your scope.',
    more: 'Next',
    opened: 'Opened',
    facility: 'Facility',
    region: 'Region',
    confirm: 'Confirm with evidence',
    evidence: 'Evidence (e.g. vaccination card seen)',
    confirmConfirm: "The dose is accepted as recorded on the facility's evidence; the case is closed.",
    link: 'Link the record holding the earlier dose',
    linkWhich: "That record's NIK or id",
    linkNone: 'No record with that NIK or id within your scope.',
    confirmLink: 'That record is merged into {name}: doses renumbered, certificates re-issued, one new SMS.',
    merge: 'Merge the two records',
    confirmMerge: '{other} is merged into {name}: doses move and are renumbered, certificates re-issued, one new SMS. This cannot be undone.',
    other: 'Other record: {name}',
    correctPhone: 'Correct the phone number',
    newPhone: 'New phone number',
    confirmPhone: "{name}'s phone number is replaced; certificate SMS not yet delivered are sent again.",
    phoneDone: 'Number changed to {phone}; {n} SMS sent again.',
    done: 'Done.',
    note: 'How you know',
    identityConfirm: 'It is this person',
    confirmIdentity: "The dose is {name}'s; the certificate and its SMS go to the number on record.",
    identityWrong: 'Not this person: void the dose',
    confirmWrong: 'The dose is voided; the facility enters it again under the right identifier.',
    phoneConfirm: 'Confirm the new number',
    confirmPhoneChange: "{name}'s phone number is replaced; the old number is told by SMS.",
    phoneReject: 'Reject the new number',
    confirmPhoneReject: 'The number on record stays.',
    phoneCode: 'Send a code to the new number',
    confirmPhoneCode: 'A code goes to the new number; ask the person to read it out.',
    codeSent: 'Code sent to {phone}.',
    phoneVerify: 'Enter the code',
    code: '6-digit code',
    confirmPhoneVerify: 'If the code is right the phone number is replaced; the old number is told by SMS.',
    settled: 'Done: {name}. The case is closed.',
    job: 'Job #{id} · {kind}',
    attempts: '{n} attempts',
    replay: 'Replay',
    confirmReplay: 'This job runs again from the start.',
    replayAll: 'Replay all',
    confirmReplayAll: 'All {n} dead jobs shown run again.',
    replayed: '{n} job(s) replayed.',
    noJobs: 'No dead jobs.',
    technical: 'Technical detail',
    count: '{label} ({n})',
    sendAgain: 'Send to SATUSEHAT again',
    confirmSendAgain: 'This dose will be sent to SATUSEHAT again. Correct its data first (NIK, date, vaccine) if that is why it was rejected.',
  },
};

type Tr = (key: keyof typeof T.id, vars?: Record<string, string | number>) => string;

function tabsFor(user: ConsoleUser): Tab[] {
  return may(user, ['support', 'admin']) ? [...KINDS, 'dead_jobs'] : [...KINDS];
}

export function WorkPage(props: PageProps) {
  const t = useTexts(T);
  const tabs = tabsFor(props.user);
  const work = useWorkCounts(props.user);
  const asked = props.query.get('kind') as Tab | null;
  const chosen = asked && tabs.includes(asked) ? asked : null;
  // Without a tab in the address, open the first one that holds something (the counts decide, so wait for them).
  const tab: Tab | null = chosen ?? (work ? (tabs.find((k) => (work.counts[k] ?? 0) > 0) ?? tabs[0] ?? 'claims_prior_dose') : null);
  const label = (k: Tab): string => {
    const n = work?.counts[k];
    return n === undefined ? t(k) : t('count', { label: t(k), n: k === 'dead_jobs' && work?.deadJobsMore ? `${n}+` : n });
  };
  return (
    <section class="op-page" aria-labelledby="op-work-title">
      <h1 id="op-work-title">{t('title')}</h1>
      <p class="lead">{t('lead')}</p>
      {tab === null ? (
        <Loading />
      ) : (
        <>
          <Tabs label={t('title')} current={tab} navigate={props.navigate} items={tabs.map((k) => ({ key: k, to: `/console/work?kind=${k}`, label: label(k) }))} />
          <h2>{t(tab)}</h2>
          {tab === 'dead_jobs' ? <DeadJobs t={t} onChange={work?.reload} /> : <Cases key={tab} {...props} kind={tab} t={t} onChange={work?.reload} />}
        </>
      )}
    </section>
  );
}

function Cases(props: PageProps & { kind: (typeof KINDS)[number]; t: Tr; onChange: (() => void) | undefined }) {
  const { t, kind } = props;
  const before = props.query.get('before');
  const list = useApi<{ cases: CaseView[]; next: string | null }>(withQuery('/api/v1/cases', { kind, before, limit: '50' }));
  // A settled case leaves the list, and its card with it: say what was done above the list.
  const [settled, setSettled] = useState<string | null>(null);
  return (
    <>
      {settled && (
        <p class="notice notice-info" role="status" data-testid="settled">
          {t('settled', { name: settled })}
        </p>
      )}
      <Load l={list}>
        {({ cases, next }) =>
          cases.length === 0 ? (
            <p class="notice notice-info" role="status">
              {t('none')}
            </p>
          ) : (
            <>
              <ul class="op-cases" data-testid="cases">
                {cases.map((c) => (
                  <li class="card op-case" key={c.id} data-case={c.id} data-person={c.personId}>
                    <h3>
                      <Link to={`/console/people/${c.personId}`} navigate={props.navigate}>
                        {c.personName}
                      </Link>
                    </h3>
                    <p class="hint">
                      {t('opened')} <When at={c.openedAt} />
                      {c.facility && ` · ${t('facility')} ${c.facility}`}
                      {c.regionCode && ` · ${t('region')} ${formatRegionCode(c.regionCode)}`}
                    </p>
                    <p class="op-case-words">{caseInWords(c, currentLang())}</p>
                    <details class="op-tech">
                      <summary>{t('technical')}</summary>
                      <dl class="op-kv">
                        <div>
                          <dt>id</dt>
                          <dd>{c.id}</dd>
                        </div>
                        {Object.entries(c.detail)
                          .filter(([, v]) => v !== null && v !== undefined && v !== '')
                          .map(([k, v]) => (
                            <div key={k}>
                              <dt>{k}</dt>
                              <dd>{typeof v === 'string' || typeof v === 'number' ? String(v) : JSON.stringify(v)}</dd>
                            </div>
                          ))}
                      </dl>
                    </details>
                    <CaseActions
                      c={c}
                      user={props.user}
                      t={t}
                      onDone={() => {
                        setSettled(c.personName);
                        list.reload();
                        props.onChange?.();
                      }}
                    />
                  </li>
                ))}
              </ul>
              {next && (
                <Link to={withQuery('/console/work', { kind, before: next })} navigate={props.navigate} class="button secondary small">
                  {t('more')}
                </Link>
              )}
            </>
          )
        }
      </Load>
    </>
  );
}

function CaseActions(props: { c: CaseView; user: ConsoleUser; t: Tr; onDone: () => void }) {
  const { c, user, t, onDone } = props;
  switch (c.kind) {
    case 'claims_prior_dose':
      return (
        <div class="op-actions">
          <Action
            label={t('confirm')}
            fields={[{ name: 'evidence', label: t('evidence'), minLength: 3 }]}
            confirm={t('confirmConfirm')}
            run={(v) => api('POST', `/api/v1/cases/${c.id}/confirm`, { evidence: v.evidence ?? '' })}
            onDone={onDone}
          />
          {may(user, ['support', 'admin']) && (
            <Action
              label={t('link')}
              fields={[{ name: 'person', label: t('linkWhich') }]}
              confirm={t('confirmLink', { name: c.personName })}
              run={async (v) => api('POST', `/api/v1/cases/${c.id}/link`, { personId: await personIdOf(v.person ?? '', t('linkNone')) })}
              onDone={onDone}
            />
          )}
        </div>
      );
    case 'possible_duplicate': {
      const other = typeof c.detail.otherPersonId === 'string' ? c.detail.otherPersonId : null;
      const otherName = typeof c.detail.otherName === 'string' ? c.detail.otherName : (other ?? '');
      return (
        <div class="op-actions">
          {other && <p>{t('other', { name: otherName })}</p>}
          {other && may(user, ['support', 'admin']) && (
            <Action
              label={t('merge')}
              danger
              confirm={t('confirmMerge', { name: c.personName, other: otherName })}
              run={() => api('POST', `/api/v1/people/${c.personId}/merge`, { from: other })}
              onDone={onDone}
            />
          )}
        </div>
      );
    }
    case 'invalid_phone':
    case 'unreachable':
    case 'suspicious_phone':
      return (
        <div class="op-actions">
          <Action
            label={t('correctPhone')}
            fields={[{ name: 'phone', label: t('newPhone'), type: 'tel' }]}
            confirm={t('confirmPhone', { name: c.personName })}
            run={(v) => api('POST', `/api/v1/people/${c.personId}/phone`, { phone: v.phone ?? '' })}
            done={(a) => t('phoneDone', { phone: (a as { phone: string }).phone, n: (a as { resent: string[] }).resent.length })}
            onDone={onDone}
          />
        </div>
      );
    case 'name_mismatch':
      // Who may settle it the API decides (a refusal is shown on the action).
      return (
        <div class="op-actions">
          <Action
            label={t('identityConfirm')}
            fields={[{ name: 'note', label: t('note'), minLength: 3 }]}
            confirm={t('confirmIdentity', { name: c.personName })}
            run={(v) => api('POST', `/api/v1/cases/${c.id}/identity`, { action: 'confirm', note: v.note ?? '' })}
            onDone={onDone}
          />
          <Action
            label={t('identityWrong')}
            danger
            fields={[{ name: 'note', label: t('note'), minLength: 3 }]}
            confirm={t('confirmWrong')}
            run={(v) => api('POST', `/api/v1/cases/${c.id}/identity`, { action: 'wrong_person', note: v.note ?? '' })}
            onDone={onDone}
          />
        </div>
      );
    case 'satusehat_rejected':
    case 'satusehat_patient_not_found':
      return (
        <div class="op-actions">
          <Action
            label={t('sendAgain')}
            confirm={t('confirmSendAgain')}
            run={() => api('POST', `/api/v1/cases/${c.id}/satusehat/send-again`, {})}
            onDone={onDone}
          />
        </div>
      );
    case 'phone_change':
      return (
        <div class="op-actions">
          <Action label={t('phoneConfirm')} confirm={t('confirmPhoneChange', { name: c.personName })} run={() => api('POST', `/api/v1/cases/${c.id}/phone-change/confirm`, {})} onDone={onDone} />
          <Action
            label={t('phoneCode')}
            confirm={t('confirmPhoneCode')}
            run={() => api('POST', `/api/v1/cases/${c.id}/phone-change/code`, {})}
            done={(a) => t('codeSent', { phone: (a as { phoneHint: string }).phoneHint })}
          />
          <Action
            label={t('phoneVerify')}
            fields={[{ name: 'code', label: t('code'), minLength: 6 }]}
            confirm={t('confirmPhoneVerify')}
            run={(v) => api('POST', `/api/v1/cases/${c.id}/phone-change/verify`, { code: v.code ?? '' })}
            onDone={onDone}
          />
          <Action
            label={t('phoneReject')}
            danger
            fields={[{ name: 'note', label: t('note'), minLength: 3 }]}
            confirm={t('confirmPhoneReject')}
            run={(v) => api('POST', `/api/v1/cases/${c.id}/phone-change/reject`, { note: v.note ?? '' })}
            onDone={onDone}
          />
        </div>
      );
    default:
      return null;
  }
}

function DeadJobs(props: { t: Tr; onChange: (() => void) | undefined }) {
  const { t } = props;
  const list = useApi<{ jobs: DeadJob[] }>('/api/v1/jobs/dead');
  return (
    <Load l={list}>
      {({ jobs }) =>
        jobs.length === 0 ? (
          <p class="notice notice-info" role="status">
            {t('noJobs')}
          </p>
        ) : (
          <>
            <Action
              label={t('replayAll')}
              confirm={t('confirmReplayAll', { n: jobs.length })}
              run={() => api('POST', '/api/v1/jobs/replay', { ids: jobs.map((j) => j.id) })}
              done={(a) => t('replayed', { n: (a as { replayed: number }).replayed })}
              onDone={() => {
                list.reload();
                props.onChange?.();
              }}
            />
            <ul class="op-cases" data-testid="dead-jobs">
              {jobs.map((j) => (
                <li class="card op-case" key={j.id}>
                  <h3>{t('job', { id: j.id, kind: j.kind })}</h3>
                  <p class="hint">
                    <When at={j.updated_at} /> · {t('attempts', { n: j.attempts })}
                  </p>
                  {j.last_error && <pre class="op-raw">{j.last_error}</pre>}
                  <Action
                    label={t('replay')}
                    confirm={t('confirmReplay')}
                    run={() => api('POST', '/api/v1/jobs/replay', { ids: [j.id] })}
                    done={(a) => t('replayed', { n: (a as { replayed: number }).replayed })}
                    onDone={() => {
                list.reload();
                props.onChange?.();
              }}
                  />
                </li>
              ))}
            </ul>
          </>
        )
      }
    </Load>
  );
}
