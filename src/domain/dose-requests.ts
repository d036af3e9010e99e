/**
 * Missing-dose requests (issue 9): the fixed reasons a facility may give for
 * declining one, with the words the person reads (SMS, portal). Pure data.
 *
 * Glossary
 * - **Dose request** — a person's report that a dose they received is not on record, filed in the
 *   citizen portal for the facility that gave it; `open` → `entered` (the dose recorded and linked)
 *   or `declined` (with a reason); `escalated` when still open after the configured days.
 */
import type { Text } from './errors.ts';

export const DOSE_REQUEST_STATUSES = ['open', 'escalated', 'entered', 'declined'] as const;
export type DoseRequestStatus = (typeof DOSE_REQUEST_STATUSES)[number];

export const DECLINE_REASONS = ['no_record_at_facility', 'wrong_facility', 'person_not_identified', 'duplicate_of_recorded_dose', 'other'] as const;
export type DeclineReason = (typeof DECLINE_REASONS)[number];

/** What a decline reason says to the person ("other" says the facility's own text instead). */
export const DECLINE_REASON_TEXT: Record<Exclude<DeclineReason, 'other'>, Text> = {
  no_record_at_facility: { id: 'faskes tidak punya catatan vaksinasi ini', en: 'the facility has no record of this vaccination' },
  wrong_facility: { id: 'dosis ini tidak diberikan di faskes ini', en: 'this dose was not given at this facility' },
  person_not_identified: { id: 'identitas Anda tidak dapat dipastikan', en: 'your identity could not be confirmed' },
  duplicate_of_recorded_dose: { id: 'dosis ini sudah tercatat', en: 'this dose is already on record' },
};

export function isDeclineReason(v: unknown): v is DeclineReason {
  return typeof v === 'string' && (DECLINE_REASONS as readonly string[]).includes(v);
}

/** A request as its owner sees it (`GET /api/v1/public/dose-requests`; also the portal page's type). */
export interface OwnDoseRequest {
  id: string;
  status: DoseRequestStatus;
  facility: { code: string; name: string };
  vaccine: { code: string; name: string };
  doseNumber: number;
  date: string;
  lot: string | null;
  note: string | null;
  createdAt: string;
  decidedAt: string | null;
  decline: { reason: DeclineReason; text: string | null } | null;
}
