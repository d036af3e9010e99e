/**
 * /console/corrections (support, admin) — citizens' wrong-or-lost-phone
 * requests (`GET /api/v1/phone-corrections?status=`): what they entered, whom
 * NIK + birth date matched and how well the name agrees, the number on record
 * now (masked); approve (the certificate SMS goes to the new number) or
 * decline with a reason (the new number is told).
 */
import type { PageProps } from '../pages.ts';
import { api } from '../api.ts';
import { useTexts } from '../../lib/lang.ts';
import { Link } from './link.tsx';
import { Action, DeclineAction, Load, Tabs, useApi, When, withQuery } from './common.tsx';

interface Correction {
  id: string;
  status: 'open' | 'approved' | 'declined';
  submittedAt: string | null;
  entered: {
    nik: string | null;
    identifier: { type: 'nik' | 'passport' | 'mother-nik'; value: string; country?: string };
    birthDate: string;
    name: string;
    newPhone: string;
    note: string | null;
  };
  match: { personId: string | null; nameScore: number | null; currentPhoneHint: string | null };
  decidedBy: string | null;
  decidedAt: string | null;
  reason: 'identity_mismatch' | 'duplicate_request' | 'other' | null;
  reasonText: string | null;
}

const STATUSES = ['open', 'approved', 'declined'] as const;

const T = {
  id: {
    title: 'Permintaan ganti nomor HP',
    lead: 'Warga yang nomor HP-nya salah atau hilang meminta nomor baru lewat portal; kode ke nomor baru sudah membuktikan nomor itu miliknya. Periksa kecocokan sebelum menyetujui.',
    open: 'Terbuka',
    approved: 'Disetujui',
    declined: 'Ditolak',
    none: 'Tidak ada permintaan.',
    submitted: 'Dikirim',
    nik: 'NIK',
    passport: 'Paspor',
    motherNik: 'NIK ibu (anak tanpa NIK)',
    birthDate: 'Tanggal lahir',
    name: 'Nama tertulis',
    newPhone: 'Nomor baru',
    note: 'Catatan',
    matched: 'Cocok dengan',
    openPerson: 'buka riwayat',
    noMatch: 'Identitas + tanggal lahir tidak cocok dengan siapa pun: tidak dapat disetujui.',
    nameScore: 'Kecocokan nama',
    current: 'Nomor tercatat sekarang',
    decided: 'Diputuskan',
    reason: 'Alasan',
    approve: 'Setujui',
    confirmApprove: 'Nomor HP orang itu menjadi {phone}, dan SMS sertifikat yang belum diterima dikirim ke nomor itu.',
    decline: 'Tolak',
    declineReason: 'Alasan penolakan',
    declineText: 'Keterangan (wajib bila alasan "lainnya")',
    confirmDecline: 'Permintaan ditolak; nomor baru menerima SMS yang menyebut penolakan dan apa yang harus dilakukan (tanpa menyebut nama).',
    identity_mismatch: 'Identitas tidak cocok',
    duplicate_request: 'Permintaan ganda',
    other: 'Lainnya',
  },
  en: {
    title: 'Phone change requests',
    lead: 'Citizens whose phone number is wrong or lost asked for a new one through the portal; a code to the new number proved it is theirs. Check the match before approving.',
    open: 'Open',
    approved: 'Approved',
    declined: 'Declined',
    none: 'No requests.',
    submitted: 'Submitted',
    nik: 'NIK',
    passport: 'Passport',
    motherNik: "Mother's NIK (a child without a NIK)",
    birthDate: 'Birth date',
    name: 'Name as written',
    newPhone: 'New number',
    note: 'Note',
    matched: 'Matches',
    openPerson: 'open the timeline',
    noMatch: 'Identity + birth date match no one: it cannot be approved.',
    nameScore: 'Name match',
    current: 'Number on record now',
    decided: 'Decided',
    reason: 'Reason',
    approve: 'Approve',
    confirmApprove: "That person's phone becomes {phone}, and certificate SMS not yet delivered are sent to it.",
    decline: 'Decline',
    declineReason: 'Reason for declining',
    declineText: 'Explanation (required with "other")',
    confirmDecline: 'The request is declined; the new number gets an SMS saying so and what to do (naming no one).',
    identity_mismatch: 'Identity does not match',
    duplicate_request: 'Duplicate request',
    other: 'Other',
  },
};

export function CorrectionsPage(props: PageProps) {
  const t = useTexts(T);
  const asked = props.query.get('status');
  const status = STATUSES.find((s) => s === asked) ?? 'open';
  const list = useApi<{ items: Correction[] }>(withQuery('/api/v1/phone-corrections', { status }));
  return (
    <section class="op-page" aria-labelledby="op-corr-title">
      <h1 id="op-corr-title">{t('title')}</h1>
      <p class="lead">{t('lead')}</p>
      <Tabs label={t('title')} current={status} navigate={props.navigate} items={STATUSES.map((s) => ({ key: s, to: `/console/corrections?status=${s}`, label: t(s) }))} />
      <Load l={list}>
        {({ items }) =>
          items.length === 0 ? (
            <p class="notice notice-info" role="status">
              {t('none')}
            </p>
          ) : (
            <ul class="op-cases" data-testid="corrections">
              {items.map((c) => (
                <li class="card op-case" key={c.id} data-correction={c.id}>
                  <h3>{c.entered.name}</h3>
                  <dl class="facts">
                    {(
                      [
                        [t('submitted'), c.submittedAt ? <When at={c.submittedAt} /> : '—'],
                        [
                          t(c.entered.identifier.type === 'passport' ? 'passport' : c.entered.identifier.type === 'mother-nik' ? 'motherNik' : 'nik'),
                          <span class="mono">
                            {c.entered.identifier.value}
                            {c.entered.identifier.country ? ` (${c.entered.identifier.country})` : ''}
                          </span>,
                        ],
                        [t('birthDate'), c.entered.birthDate],
                        [t('newPhone'), <span class="mono">{c.entered.newPhone}</span>],
                        [t('current'), <span class="mono">{c.match.currentPhoneHint ?? '—'}</span>],
                        [t('nameScore'), c.match.nameScore === null ? '—' : `${Math.round(c.match.nameScore * 100)}%`],
                        ...(c.entered.note ? [[t('note'), c.entered.note] as const] : []),
                        ...(c.decidedAt ? [[t('decided'), <When at={c.decidedAt} />] as const] : []),
                        ...(c.reason ? [[t('reason'), `${t(c.reason)}${c.reasonText ? `: ${c.reasonText}` : ''}`] as const] : []),
                      ] as const
                    ).map(([label, value]) => (
                      <div class="fact" key={label}>
                        <dt>{label}</dt>
                        <dd>{value}</dd>
                      </div>
                    ))}
                  </dl>
                  {c.match.personId ? (
                    <p>
                      {t('matched')}:{' '}
                      <Link to={`/console/people/${c.match.personId}`} navigate={props.navigate}>
                        {t('openPerson')}
                      </Link>
                    </p>
                  ) : (
                    <p class="notice notice-warn">{t('noMatch')}</p>
                  )}
                  {c.status === 'open' && (
                    <div class="op-actions">
                      {c.match.personId && (
                        <Action
                          label={t('approve')}
                          confirm={t('confirmApprove', { phone: c.entered.newPhone })}
                          run={() => api('POST', `/api/v1/phone-corrections/${c.id}/approve`)}
                          onDone={list.reload}
                        />
                      )}
                      <DeclineAction
                        label={t('decline')}
                        reasonLabel={t('declineReason')}
                        textLabel={t('declineText')}
                        reasons={(['identity_mismatch', 'duplicate_request', 'other'] as const).map((r) => ({ value: r, label: t(r) }))}
                        confirm={t('confirmDecline')}
                        path={`/api/v1/phone-corrections/${c.id}/decline`}
                        onDone={list.reload}
                      />
                    </div>
                  )}
                </li>
              ))}
            </ul>
          )
        }
      </Load>
    </section>
  );
}
