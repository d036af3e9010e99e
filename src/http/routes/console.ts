/**
 * What the console's record page needs beyond the core API: whether the SMS
 * of a just-issued certificate went out — for the facility that recorded it
 * too (the full SMS history stays with support and admin).
 */
import { Type } from 'typebox';
import type { App, AppDeps } from '../deps.ts';
import { allow } from '../auth.ts';
import { assertPersonInScope } from '../../access/scope.ts';
import { maskPhone } from '../../domain/masking.ts';
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
          200: Type.Object({ status: SmsState, recipient: Type.Union([Type.String(), Type.Null()]), at: Type.Union([Type.String(), Type.Null()]) }),
          '4xx': ErrorSchema,
        },
      },
    },
    async (req) => {
      const who = allow(req, ['facility', 'district', 'support', 'admin']);
      await assertPersonInScope(deps.db, who, req.params.id);
      const r = await deps.db.query<{ status: string; hold_reason: string | null; recipient: string | null; updated_at: Date }>(
        `SELECT n.status, n.hold_reason, n.recipient, n.updated_at FROM notifications n
          WHERE n.person_id = $1 AND n.certificate_id::text = $2 AND n.kind = 'certificate'
          ORDER BY n.created_at DESC LIMIT 1`,
        [req.params.id, req.params.certificateId],
      );
      const n = r.rows[0];
      if (!n) return { status: 'queued', recipient: null, at: null };
      const noPhone = n.status === 'held' && (n.hold_reason === 'missing' || n.hold_reason === 'invalid');
      return { status: noPhone ? 'no_phone' : n.status, recipient: maskPhone(n.recipient), at: n.updated_at.toISOString() };
    },
  );
}
