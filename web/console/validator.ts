/**
 * The record form's checks — `validateVaccinationInput` of src/domain/, the
 * server's own — fetched beside the form rather than inside its code: they
 * carry the phone-number metadata of libphonenumber-js (about two thirds of
 * the form's bytes), and the form can be shown and typed into while they
 * arrive on a slow line (issue 17 item 16). Until they are here the form
 * shows no field errors and cannot be sent.
 */
import { useEffect, useState } from 'preact/hooks';
import type { ValidationOptions, ValidationResult } from '../../src/domain/vaccination-input.ts';

export type Validate = (body: unknown, options: ValidationOptions) => ValidationResult;

let ready: Validate | null = null;
let loading: Promise<Validate> | null = null;

/** Starts fetching the checks (once; again after a failure). */
export function loadValidator(): Promise<Validate> {
  loading ??= import('../../src/domain/vaccination-input.ts').then(
    (m) => (ready = m.validateVaccinationInput),
    (e: unknown) => {
      loading = null;
      throw e;
    },
  );
  return loading;
}

/** Not checked yet: not sendable, nothing to mark. */
export const NOT_CHECKED: ValidationResult = { ok: false, issues: [] };

/** The checks once they have arrived (re-renders then), null before; retried every few seconds if they cannot be fetched. */
export function useValidator(): Validate | null {
  const [validate, setValidate] = useState<Validate | null>(() => ready);
  useEffect(() => {
    if (validate) return;
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const attempt = (): void => {
      loadValidator().then(
        (v) => live && setValidate(() => v),
        () => {
          if (live) timer = setTimeout(attempt, 3000);
        },
      );
    };
    attempt();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, []);
  return validate;
}
