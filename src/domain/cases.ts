/**
 * The work lists' vocabulary: the kinds of case people must look at, their
 * statuses, and a case as the API shows it (`GET /api/v1/cases`). Browser-safe,
 * no I/O: records/cases.ts lists them, the console's work list draws them.
 */

/** Every kind of case, in the order the work list shows its tabs. */
export const CASE_KINDS = ['claims_prior_dose', 'possible_duplicate', 'invalid_phone', 'unreachable', 'suspicious_phone', 'name_mismatch', 'phone_change', 'satusehat_rejected', 'satusehat_patient_not_found'] as const;
export type CaseKind = (typeof CASE_KINDS)[number];

export const CASE_STATUSES = ['open', 'resolved', 'dismissed'] as const;
export type CaseStatus = (typeof CASE_STATUSES)[number];

/** A case as the API answers it. */
export interface CaseView {
  id: string;
  kind: string;
  status: string;
  personId: string;
  personName: string;
  facility: string | null;
  regionCode: string | null;
  subjectId: string | null;
  detail: Record<string, unknown>;
  notes: string | null;
  openedAt: string;
  resolvedAt: string | null;
}
