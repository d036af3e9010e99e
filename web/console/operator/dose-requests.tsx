/**
 * /console/dose-requests — citizens' missing-dose requests (`GET
 * /api/v1/dose-requests?status=`): a facility its own, a district its
 * region's (escalated ones too), support and admin all. A facility, district
 * or admin enters the dose (recorded like any dose: certificate and SMS) or
 * declines with a reason the person is told by SMS.
 */
import type { PageProps } from '../pages.ts';
import { DECLINE_REASONS, DOSE_REQUEST_STATUSES, type OwnDoseRequest } from '../../../src/domain/dose-requests.ts';
import { api } from '../api.ts';
import { useTexts } from '../../lib/lang.ts';
import { GLOSSARY as G } from '../../lib/glossary.ts';
import { Link } from './link.tsx';
import { Action, DeclineAction, Load, may, Tabs, useApi, When, withQuery } from './common.tsx';

/** A request on the work list (records/dose-requests.ts `DoseRequestItem`): the owner's view plus who asks and the links. */
interface DoseRequest extends OwnDoseRequest {
  personId: string;
  person: { name: string; birthDate: string; identifier: { type: string; masked: string; country: string | null } };
  escalatedAt: string | null;
  vaccinationId: string | null;
  region: string;
}

const STATUSES = DOSE_REQUEST_STATUSES;
const REASONS = DECLINE_REASONS;

const T = {
  id: {
    title: 'Permintaan dosis yang hilang',
    lead: 'Warga melaporkan dosis yang tidak ada di sistem. Periksa catatan fasyankes, lalu catat dosisnya atau tolak dengan alasan; warga diberi tahu lewat SMS.',
    open: G.id['request.open'],
    escalated: G.id['request.escalated'],
    entered: G.id['request.entered'],
    declined: G.id['request.declined'],
    none: 'Tidak ada permintaan di wilayah kerja Anda.',
    what: 'Dosis {n} · {vaccine} · {date}',
    at: 'di {facility}',
    person: 'Pemohon',
    filed: 'Diajukan',
    escalatedAt: G.id['request.escalated'],
    note: 'Catatan warga',
    lot: 'Nomor batch (tidak wajib)',
    record: 'Catat dosis ini',
    confirmRecord: 'Dosis {n} ({date}) dicatat untuk {name} di {facility}; sertifikat terbit dan dikirim lewat SMS.',
    decline: 'Tolak',
    reason: 'Alasan',
    reasonText: 'Keterangan (wajib bila "lainnya"; dikutip di SMS)',
    confirmDecline: 'Permintaan ditolak; warga menerima SMS dengan alasannya.',
    no_record_at_facility: 'Tidak ada catatan di fasyankes',
    wrong_facility: 'Fasyankes salah',
    person_not_identified: 'Orang tidak dapat dipastikan',
    duplicate_of_recorded_dose: 'Dosis sudah tercatat',
    other: 'Lainnya',
  },
  en: {
    title: 'Missing-dose requests',
    lead: "Citizens report doses missing from the system. Check the facility's records, then enter the dose or decline with a reason; the citizen is told by SMS.",
    open: G.en['request.open'],
    escalated: G.en['request.escalated'],
    entered: G.en['request.entered'],
    declined: G.en['request.declined'],
    none: 'No requests within your scope.',
    what: 'Dose {n} · {vaccine} · {date}',
    at: 'at {facility}',
    person: 'Requested by',
    filed: 'Filed',
    escalatedAt: G.en['request.escalated'],
    note: "Citizen's note",
    lot: 'Lot number (optional)',
    record: 'Enter this dose',
    confirmRecord: 'Dose {n} ({date}) is recorded for {name} at {facility}; the certificate is issued and sent by SMS.',
    decline: 'Decline',
    reason: 'Reason',
    reasonText: 'Explanation (required with "other"; quoted in the SMS)',
    confirmDecline: 'The request is declined; the citizen gets an SMS with the reason.',
    no_record_at_facility: 'No record at the facility',
    wrong_facility: 'Wrong facility',
    person_not_identified: 'Person not identified',
    duplicate_of_recorded_dose: 'Dose already recorded',
    other: 'Other',
  },
};

export function DoseRequestsPage(props: PageProps) {
  const t = useTexts(T);
  const asked = props.query.get('status');
  const status = STATUSES.find((s) => s === asked) ?? 'open';
  const list = useApi<{ requests: DoseRequest[] }>(withQuery('/api/v1/dose-requests', { status }));
  const acts = may(props.user, ['facility', 'district', 'admin']);
  return (
    <section class="op-page" aria-labelledby="op-dreq-title">
      <h1 id="op-dreq-title">{t('title')}</h1>
      <p class="lead">{t('lead')}</p>
      <Tabs label={t('title')} current={status} navigate={props.navigate} items={STATUSES.map((s) => ({ key: s, to: `/console/dose-requests?status=${s}`, label: t(s) }))} />
      <Load l={list}>
        {({ requests }) =>
          requests.length === 0 ? (
            <p class="notice notice-info" role="status">
              {t('none')}
            </p>
          ) : (
            <ul class="op-cases" data-testid="dose-requests">
              {requests.map((r) => (
                <li class="card op-case" key={r.id} data-request={r.id}>
                  <h3>
                    {t('what', { n: r.doseNumber, vaccine: r.vaccine.name, date: r.date })} {t('at', { facility: r.facility.name })}
                  </h3>
                  <p>
                    {t('person')}:{' '}
                    <Link to={`/console/people/${r.personId}`} navigate={props.navigate}>
                      {r.person.name}
                    </Link>{' '}
                    <span class="mono">{r.person.identifier.masked}</span> · {r.person.birthDate}
                  </p>
                  <p class="hint">
                    {t('filed')} <When at={r.createdAt} />
                    {r.escalatedAt && (
                      <>
                        {' · '}
                        {t('escalatedAt')} <When at={r.escalatedAt} />
                      </>
                    )}
                  </p>
                  {r.note && (
                    <p>
                      {t('note')}: {r.note}
                    </p>
                  )}
                  {r.decline && (
                    <p>
                      {t('reason')}: {t(r.decline.reason)}
                      {r.decline.text ? ` — ${r.decline.text}` : ''}
                    </p>
                  )}
                  {acts && (r.status === 'open' || r.status === 'escalated') && (
                    <div class="op-actions">
                      <Action
                        label={t('record')}
                        fields={[{ name: 'lot', label: t('lot'), optional: true }]}
                        confirm={t('confirmRecord', { n: r.doseNumber, date: r.date, name: r.person.name, facility: r.facility.name })}
                        run={(v) => api('POST', `/api/v1/dose-requests/${r.id}/record`, v.lot ? { lot: v.lot } : {})}
                        onDone={list.reload}
                      />
                      <DeclineAction
                        label={t('decline')}
                        reasonLabel={t('reason')}
                        textLabel={t('reasonText')}
                        reasons={REASONS.map((x) => ({ value: x, label: t(x) }))}
                        confirm={t('confirmDecline')}
                        path={`/api/v1/dose-requests/${r.id}/decline`}
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
