/**
 * What the console's record page needs beyond the core API: whether the SMS
 * of a just-issued certificate went out, and why it is held — for the
 * facility that recorded it too (the full SMS history stays with support and
 * admin); and, once a NIK is typed, which doses of that person are on record
 * (for a person the caller may already see: the same scope as the search that
 * pre-fills the form, and the same doses its timeline lists).
 */
import { Type } from 'typebox';
import type { App, AppDeps } from '../deps.ts';
import { allow } from '../auth.ts';
import { assertPersonInScope } from '../../access/scope.ts';
import { linkTokenFor } from '../../access/links.ts';
import { maskPhone } from '../../records/people.ts';
import { ErrorSchema } from './schemas.ts';

const SmsState = Type.String({
  enum: ['queued', 'pending', 'submitted', 'delivered', 'failed', 'expired', 'unknown', 'held', 'cancelled', 'no_phone'],
  description: 'queued: not handed to the SMS worker yet; no_phone: held because the person has no usable mobile number (phone work list)',
});

export function consoleRoutes(app: App, deps: AppDeps): void {
  app.get(
    '/api/v1/people/:id/certificates/:certificateId/sms',
    {
      schema: {
        tags: ['records'],
        summary: "The state of a certificate's SMS (all staff, within their scope): queued, sent, delivered, failed, or not sent for want of a phone",
        params: Type.Object({ id: Type.String({ maxLength: 64 }), certificateId: Type.String({ maxLength: 64 }) }),
        response: {
          200: Type.Object({
            status: SmsState,
            recipient: Type.Union([Type.String(), Type.Null()]),
            at: Type.Union([Type.String(), Type.Null()]),
            reasons: Type.Array(Type.String({ enum: ['placeholder', 'facility_phone', 'shared'] }), {
              description: 'held: why the number looks like someone else\'s — placeholder (repeated or counting digits), facility_phone (a facility\'s own number), shared (on more people than the limit)',
            }),
            shareLimit: Type.Union([Type.Integer(), Type.Null()], { description: 'shared: the number of people a number may be on' }),
          }),
          '4xx': ErrorSchema,
        },
      },
    },
    async (req) => {
      const who = allow(req, ['facility', 'district', 'support', 'admin']);
      await assertPersonInScope(deps.db, who, req.params.id);
      const r = await deps.db.query<{ id: string; status: string; hold_reason: string | null; recipient: string | null; updated_at: Date }>(
        `SELECT n.id::text, n.status, n.hold_reason, n.recipient, n.updated_at FROM notifications n
          WHERE n.person_id = $1 AND n.certificate_id::text = $2 AND n.kind = 'certificate'
          ORDER BY n.created_at DESC LIMIT 1`,
        [req.params.id, req.params.certificateId],
      );
      const n = r.rows[0];
      if (!n) return { status: 'queued', recipient: null, at: null, reasons: [], shareLimit: null };
      const noPhone = n.status === 'held' && (n.hold_reason === 'missing' || n.hold_reason === 'invalid');
      const why = n.status === 'held' && n.hold_reason === 'suspicious' ? await heldReasons(deps, req.params.id, n.id) : { reasons: [], shareLimit: null };
      return { status: noPhone ? 'no_phone' : n.status, recipient: maskPhone(n.recipient), at: n.updated_at.toISOString(), ...why };
    },
  );

  app.get(
    '/api/v1/people/:id/doses',
    {
      schema: {
        tags: ['records'],
        summary: "A person's doses on record (number, date, vaccine), for the record form once a NIK is typed (all staff, within their scope)",
        description:
          'The scope is the search\'s (the pre-fill): a person the caller may not see is a 404. `certificateLink` only for a dose the caller\'s own facility recorded ' +
          '(the link its answer already carried), and for admin; otherwise null.',
        params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
        response: {
          200: Type.Object({
            doses: Type.Array(
              Type.Object({
                doseNumber: Type.Integer(),
                date: Type.String(),
                vaccine: Type.String(),
                status: Type.String(),
                ownFacility: Type.Boolean(),
                certificateLink: Type.Union([Type.String(), Type.Null()]),
              }),
            ),
          }),
          '4xx': ErrorSchema,
        },
      },
    },
    async (req) => {
      const who = allow(req, ['facility', 'district', 'support', 'admin']);
      await assertPersonInScope(deps.db, who, req.params.id);
      const r = await deps.db.query<{ dose_number: number; date: string; vaccine: string; status: string; facility_code: string; certificate_id: string | null }>(
        `SELECT v.dose_number, v.date::text AS date, v.vaccine, v.status, v.facility_code,
                (SELECT c.id::text FROM certificates c WHERE c.person_id = v.person_id AND c.vaccination_id = v.id AND c.status = 'valid'
                  ORDER BY c.issued_at DESC LIMIT 1) AS certificate_id
           FROM vaccinations v
          WHERE v.person_id = $1 AND v.status <> 'void'
          ORDER BY v.dose_number, v.date`,
        [req.params.id],
      );
      return {
        doses: r.rows.map((d) => {
          const own = who.role === 'facility' && d.facility_code === who.facilityCode;
          const link = d.certificate_id !== null && (own || who.role === 'admin') ? `${deps.config.publicUrl}/c/${linkTokenFor(deps.linkSecret, d.certificate_id)}` : null;
          return { doseNumber: d.dose_number, date: d.date, vaccine: d.vaccine, status: d.status, ownFacility: own, certificateLink: link };
        }),
      };
    },
  );
}

/** Why a certificate SMS was held as suspicious: the reasons of the case it opened (or of the person's latest such case). */
async function heldReasons(deps: AppDeps, personId: string, notificationId: string): Promise<{ reasons: string[]; shareLimit: number | null }> {
  const r = await deps.db.query<{ detail: { reasons?: unknown; limit?: unknown } | null }>(
    `SELECT detail FROM cases WHERE person_id = $1 AND kind = 'suspicious_phone'
      ORDER BY (subject_id IS NOT DISTINCT FROM $2::uuid) DESC, opened_at DESC LIMIT 1`,
    [personId, notificationId],
  );
  const d = r.rows[0]?.detail;
  const reasons = Array.isArray(d?.reasons) ? d.reasons.filter((x): x is string => x === 'placeholder' || x === 'facility_phone' || x === 'shared') : [];
  return { reasons, shareLimit: typeof d?.limit === 'number' ? d.limit : null };
}
