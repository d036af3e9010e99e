/**
 * A person's whole history on one screen: every dose (who recorded it, where,
 * when, from which import or form), every certificate (issued, superseded,
 * revoked), every SMS (its text, gateway, every gateway answer and delivery
 * report with raw text), phone changes, cases opened and resolved, merges —
 * in time order with the actor. Plus, per dose, its state in words, so "the
 * dose was never entered" and "the certificate never reached you" are never
 * confused.
 */
import type { OperationOutcome } from '@medplum/fhirtypes';
import { outcomeInWords } from '../satusehat/sync.ts';
import type { Queryable } from '../db/client.ts';
import type { Principal } from '../access/tokens.ts';
import { isPersonId, personNotFound, personScopeSql, seesIdentifiers } from '../access/scope.ts';
import { roleInHistory } from '../domain/doses.ts';
import type { Text } from '../domain/errors.ts';
import type { VaccinationStatus } from '../domain/types.ts';
import { maskNik, maskPhone, maskPhonesIn } from '../domain/masking.ts';
import { formatDate } from '../certificates/display.ts';

export interface TimelineEvent {
  at: string;
  type: string;
  actor: string | null;
  [k: string]: unknown;
}

export interface DoseState {
  vaccinationId: string;
  doseNumber: number;
  date: string;
  vaccine: string;
  /** The facility that recorded it (the one that may void it, beside support and admin). */
  facility: string;
  facilityName: string | null;
  /** EU DCC dn/sd and role of the dose, by the rule every output uses (domain/doses.ts roleInHistory); null when the catalogue cannot place it. */
  series: { dn: number; sd: number; role: 'primary' | 'booster'; boosterNumber: number | null } | null;
  state: 'void' | 'no_certificate' | 'identity_review' | 'certificate_revoked' | 'sms_not_sent' | 'sms_held' | 'sms_queued' | 'sms_sent' | 'sms_delivered' | 'sms_failed';
  text: Text;
  /**
   * The dose's hand-off to SATUSEHAT (satusehat/sync.ts): its state, SATUSEHAT's id of the Immunization
   * (the national id) once synced, the reason of a rejection, in words; null when it was never queued.
   */
  satusehat: { state: string; immunizationId: string | null; syncedAt: string | null; text: Text } | null;
}

interface Ev extends Record<string, unknown> {
  at: Date;
  type: string;
  actor: string | null;
  data: Record<string, unknown>;
}

/**
 * The person a timeline is of, whether the caller may see them (`in_scope`: the scope's condition on `p`,
 * its parameters from $2), and the people merged into them (their records are the person's), by the partial
 * index people_merged_into (migration 046; test/records/plans.test.ts): one round trip instead of three.
 */
export const TIMELINE_PERSON = (scopeSql: string): string =>
  `SELECT p.id, p.id_type, p.id_value, p.id_country, p.name, p.birth_date, p.sex, p.phone, p.phone_status, p.merged_into, p.created_at,
          ${scopeSql} AS in_scope, ARRAY(SELECT m.id FROM people m WHERE m.merged_into = p.id ORDER BY m.id) AS merged_from
     FROM people p WHERE p.id = $1`;

/** Actor ids are token or staff account ids: shown as "role:label" or "role:username". */
const ACTOR = `coalesce((SELECT st.role || ':' || st.label FROM api_tokens st WHERE st.id::text = %s),
                        (SELECT sa.role || ':' || sa.username FROM staff_accounts sa WHERE sa.id::text = %s), %s)`;
const actor = (col: string) => ACTOR.replaceAll('%s', col);

export async function personTimeline(db: Queryable, who: Principal, personId: string, reveal = false): Promise<{ person: Record<string, unknown>; doses: DoseState[]; events: TimelineEvent[] }> {
  if (!isPersonId(personId)) throw personNotFound(personId);
  const scope = personScopeSql(who, 2);
  const p = await db.query<Record<string, unknown> & { id: string; id_type: string; id_value: string; name: string; birth_date: string; phone: string | null; phone_status: string; merged_into: string | null; created_at: Date; in_scope: boolean; merged_from: string[] }>(
    TIMELINE_PERSON(scope.sql),
    [personId, ...scope.params],
  );
  const person = p.rows[0];
  // Out of scope is not found: the answer does not tell that the person exists (scope.ts).
  if (!person?.in_scope) throw personNotFound(personId);
  const full = seesIdentifiers(who, reveal);
  // Records merged into this one keep their audit history under their own id.
  const ids = [personId, ...person.merged_from];

  // The events and the doses' states side by side, on two connections of the pool.
  const [events, doses] = await Promise.all([db.query<Ev>(
    `SELECT v.recorded_at AS at, 'dose_recorded' AS type, ${actor('v.recorded_by::text')} AS actor,
            json_build_object('vaccinationId', v.id, 'doseNumber', v.dose_number, 'vaccine', v.vaccine, 'date', v.date, 'lot', v.lot,
                              'facility', v.facility_code, 'source', v.source, 'importId', v.import_id, 'status', v.status,
                              'idempotencyKey', v.idempotency_key)::jsonb AS data
       FROM vaccinations v WHERE v.person_id = $1
     UNION ALL
     SELECT c.issued_at, 'certificate_issued', NULL,
            json_build_object('certificateId', c.id, 'vaccinationId', c.vaccination_id, 'uvci', c.uvci, 'kid', c.kid, 'dn', c.dn, 'sd', c.sd,
                              'expiresAt', c.expires_at)::jsonb
       FROM certificates c WHERE c.person_id = $1
     UNION ALL
     SELECT coalesce(c.status_at, c.issued_at), 'certificate_' || c.status, NULL,
            json_build_object('certificateId', c.id, 'vaccinationId', c.vaccination_id, 'reason', c.status_reason, 'supersededBy', c.superseded_by)::jsonb
       FROM certificates c WHERE c.person_id = $1 AND c.status <> 'valid'
     UNION ALL
     SELECT n.created_at, 'sms', NULL,
            json_build_object('notificationId', n.id, 'certificateId', n.certificate_id, 'kind', n.kind, 'recipient', n.recipient, 'text', n.body,
                              'status', n.status, 'holdReason', n.hold_reason, 'route', n.route, 'attempt', n.attempt, 'lastError', n.last_error,
                              -- when it was handed over and ended: what stays once a delivered SMS's events are compacted (notify/retention.ts)
                              'submittedAt', n.submitted_at, 'finalAt', n.final_at,
                              'deliveredAttempt', n.delivered_attempt,
                              -- attempts the SMSC acknowledged (bit 8), and other attempts delivered too (the person got it twice)
                              'acknowledgedAttempts', coalesce((SELECT json_agg(DISTINCT x.attempt) FROM notification_events x
                                 WHERE x.person_id = n.person_id AND x.notification_id = n.id AND x.type = 'report' AND x.report_bits & 8 <> 0), '[]'::json),
                              'alsoDelivered', coalesce((SELECT json_agg(DISTINCT x.attempt) FROM notification_events x
                                 WHERE x.person_id = n.person_id AND x.notification_id = n.id AND x.type = 'report' AND x.report_bits & 1 <> 0
                                   AND x.attempt IS DISTINCT FROM n.delivered_attempt), '[]'::json))::jsonb
       FROM notifications n WHERE n.person_id = $1
     UNION ALL
     SELECT e.at, 'sms_' || e.type, NULL,
            json_build_object('notificationId', e.notification_id, 'attempt', e.attempt, 'route', e.route, 'status', e.status,
                              'applied', e.applied, 'reportBits', e.report_bits, 'gatewayRef', e.gateway_ref, 'raw', e.raw,
                              'acknowledgedBySmsc', CASE WHEN e.type = 'report' THEN e.report_bits & 8 <> 0 END,
                              'alsoDelivered', CASE WHEN e.type = 'report' THEN e.report_bits & 1 <> 0 AND e.attempt IS DISTINCT FROM sn.delivered_attempt END)::jsonb
       FROM notification_events e LEFT JOIN notifications sn ON sn.person_id = e.person_id AND sn.id = e.notification_id WHERE e.person_id = $1
     UNION ALL
     SELECT k.opened_at, 'case_opened', NULL,
            json_build_object('caseId', k.id, 'kind', k.kind, 'detail', k.detail, 'facility', k.facility_code)::jsonb
       FROM cases k WHERE k.person_id = $1
     UNION ALL
     SELECT k.resolved_at, 'case_' || k.status, ${actor('k.resolved_by::text')},
            json_build_object('caseId', k.id, 'kind', k.kind, 'notes', k.notes)::jsonb
       FROM cases k WHERE k.person_id = $1 AND k.resolved_at IS NOT NULL
     UNION ALL
     SELECT a.at, a.action, ${actor('a.actor')}, a.detail || json_build_object('subject', a.subject)::jsonb
       FROM audit_log a WHERE a.person_id = ANY($2::uuid[])
     ORDER BY 1, 2`,
    [personId, ids],
  ), doseStates(db, personId)]);

  const mask = (e: Ev): Record<string, unknown> => {
    if (full) return e.data;
    const d = maskPhonesIn(e.data);
    // The SMS link opens the certificate: masked in the text and in the raw `created` event that repeats it.
    for (const k of ['text', 'raw']) if (typeof d[k] === 'string') d[k] = d[k].replace(/https?:\/\/\S+/g, '[link]');
    return d;
  };

  return {
    person: {
      id: person.id,
      identifier: { type: person.id_type, value: full ? person.id_value : maskNik(person.id_value) },
      name: person.name,
      birthDate: person.birth_date,
      phone: full ? person.phone : maskPhone(person.phone),
      phoneStatus: person.phone_status,
      mergedInto: person.merged_into,
      mergedFrom: ids.slice(1),
    },
    doses,
    events: events.rows.map((e) => ({ at: e.at.toISOString(), type: e.type, actor: e.actor, ...mask(e) })),
  };
}

/** Each dose's state in words, from the newest certificate and its newest notification. */
export async function doseStates(db: Queryable, personId: string): Promise<DoseState[]> {
  const r = await db.query<{
    id: string; dose_number: number; date: string; vaccine: string; facility_code: string; facility_name: string | null; status: string; cert_status: string | null; sms_status: string | null; hold_reason: string | null; recipient: string | null;
    sync_state: string | null; immunization_id: string | null; synced_at: Date | null; sync_outcome: OperationOutcome | null;
  }>(
    `SELECT v.id, v.dose_number, v.date, v.vaccine, v.facility_code, (SELECT f.name FROM facilities f WHERE f.code = v.facility_code) AS facility_name, v.status, c.status AS cert_status, n.status AS sms_status, n.hold_reason, n.recipient,
            s.state AS sync_state, s.immunization_id, s.synced_at, s.outcome AS sync_outcome
       FROM vaccinations v
       LEFT JOIN satusehat_sync s ON s.vaccination_id = v.id
       LEFT JOIN LATERAL (SELECT c.id, c.status FROM certificates c WHERE c.person_id = v.person_id AND c.vaccination_id = v.id
                           ORDER BY (c.status = 'valid') DESC, c.issued_at DESC LIMIT 1) c ON true
       LEFT JOIN LATERAL (SELECT n.status, n.hold_reason, n.recipient FROM notifications n WHERE n.person_id = v.person_id AND n.certificate_id = c.id
                           ORDER BY n.created_at DESC LIMIT 1) n ON true
      WHERE v.person_id = $1
      ORDER BY v.dose_number, v.date`,
    [personId],
  );
  const history = r.rows.map((d) => ({ doseNumber: d.dose_number, date: d.date, vaccine: d.vaccine, status: d.status as VaccinationStatus }));
  return r.rows.map((d, i) => {
    const [state, text] = describe(d);
    const role = history[i] && roleInHistory(history[i], history);
    const series = role ? { dn: role.dn, sd: role.sd, role: role.role, boosterNumber: role.boosterNumber ?? null } : null;
    const satusehat = d.sync_state
      ? { state: d.sync_state, immunizationId: d.immunization_id, syncedAt: d.synced_at?.toISOString() ?? null, text: syncText(d.sync_state, d.immunization_id, d.sync_outcome) }
      : null;
    return { vaccinationId: d.id, doseNumber: d.dose_number, date: d.date, vaccine: d.vaccine, facility: d.facility_code, facilityName: d.facility_name, series, state, text, satusehat };
  });
}

/** A dose's SATUSEHAT state in words. */
function syncText(state: string, id: string | null, outcome: OperationOutcome | null): Text {
  switch (state) {
    case 'synced':
      return { en: `In SATUSEHAT (Immunization ${id}).`, id: `Sudah di SATUSEHAT (Immunization ${id}).` };
    case 'rejected': {
      const why = outcome ? outcomeInWords(outcome) : '';
      return { en: `Rejected by SATUSEHAT: ${why}. On the work list "Rejected by SATUSEHAT".`, id: `Ditolak SATUSEHAT: ${why}. Ada di daftar kerja "Ditolak SATUSEHAT".` };
    }
    case 'patient_not_found':
      return { en: 'Not sent: SATUSEHAT has no patient with this NIK (work list "Not found in SATUSEHAT").', id: 'Belum terkirim: SATUSEHAT tidak punya pasien dengan NIK ini (daftar kerja "Tidak ada di SATUSEHAT").' };
    default:
      return { en: 'Waiting to be sent to SATUSEHAT.', id: 'Menunggu dikirim ke SATUSEHAT.' };
  }
}

function describe(d: { dose_number: number; date: string; status: string; cert_status: string | null; sms_status: string | null; hold_reason: string | null }): [DoseState['state'], Text] {
  // Dates as people read them ("10 Juni 2021"), as the certificate page writes them.
  const on = { en: formatDate(d.date, 'en'), id: formatDate(d.date, 'id') };
  const dose = { en: `Dose ${d.dose_number} (${on.en}) is recorded`, id: `Dosis ${d.dose_number} (${on.id}) tercatat` };
  if (d.status === 'void') return ['void', { en: `Dose ${d.dose_number} (${on.en}) was voided as a mistaken entry.`, id: `Dosis ${d.dose_number} (${on.id}) dibatalkan karena salah catat.` }];
  if (!d.cert_status) return ['no_certificate', { en: `${dose.en}, but it has no certificate.`, id: `${dose.id}, tetapi belum ada sertifikatnya.` }];
  if (d.cert_status === 'held')
    return [
      'identity_review',
      {
        en: `${dose.en}, held: the name sent with it did not match the record; its certificate and SMS wait until someone who knows the person confirms the name on the work list.`,
        id: `${dose.id}, ditahan: nama yang dikirim tidak cocok dengan data; sertifikat dan SMS-nya menunggu konfirmasi nama di daftar kerja.`,
      },
    ];
  if (d.cert_status !== 'valid') return ['certificate_revoked', { en: `${dose.en}; its certificate was ${d.cert_status}.`, id: `${dose.id}; sertifikatnya ${d.cert_status === 'revoked' ? 'dicabut' : 'diganti'}.` }];
  const cert = { en: `${dose.en} and its certificate is issued`, id: `${dose.id} dan sertifikatnya sudah terbit` };
  switch (d.sms_status) {
    case null:
    case 'pending':
      return d.sms_status === null
        ? ['sms_not_sent', { en: `${cert.en}; the SMS has not been sent yet.`, id: `${cert.id}; SMS belum dikirim.` }]
        : ['sms_queued', { en: `${cert.en}; the SMS is queued.`, id: `${cert.id}; SMS sedang antre.` }];
    case 'held':
      return ['sms_held', { en: `${cert.en}; the SMS is held: ${holdText(d.hold_reason).en}.`, id: `${cert.id}; SMS ditahan: ${holdText(d.hold_reason).id}.` }];
    case 'submitted':
    case 'unknown':
      return ['sms_sent', { en: `${cert.en}; the SMS was sent, no delivery report yet.`, id: `${cert.id}; SMS terkirim, belum ada laporan diterima.` }];
    case 'delivered':
      return ['sms_delivered', { en: `${cert.en}; the SMS was delivered.`, id: `${cert.id}; SMS sudah diterima.` }];
    default:
      return ['sms_failed', { en: `${cert.en}; the SMS failed (${d.sms_status}).`, id: `${cert.id}; SMS gagal (${d.sms_status}).` }];
  }
}

function holdText(reason: string | null): Text {
  switch (reason) {
    case 'missing':
      return { en: 'no phone number on record', id: 'tidak ada nomor HP' };
    case 'invalid':
      return { en: 'the phone number cannot receive SMS', id: 'nomor HP tidak dapat menerima SMS' };
    case 'held':
    case 'suspicious':
      return { en: 'the phone number is shared by many unrelated people', id: 'nomor HP dipakai banyak orang yang tidak berhubungan' };
    default:
      return { en: reason ?? 'unknown reason', id: reason ?? 'alasan tidak diketahui' };
  }
}
