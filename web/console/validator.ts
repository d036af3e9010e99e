/**
 * The record form's checks — `validateVaccinationInput` and the phone rules of
 * src/domain/, the server's own (checks.ts) — fetched beside the form rather
 * than inside its code: they carry the phone-number metadata of
 * libphonenumber-js (about two thirds of the form's bytes), and the form can
 * be shown and typed into while they arrive on a slow line (issue 17 item
 * 16). Until they are here the form shows no field errors and cannot be sent.
 */
import { useEffect, useState } from 'preact/hooks';
import type { ValidationResult } from '../../src/domain/vaccination-input.ts';

export type Checks = typeof import('./checks.ts');

let ready: Checks | null = null;
let loading: Promise<Checks> | null = null;

/** Starts fetching the checks (once; again after a failure). */
export function loadChecks(): Promise<Checks> {
  loading ??= import('./checks.ts').then(
    (m) => (ready = m),
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
export function useChecks(): Checks | null {
  const [checks, setChecks] = useState<Checks | null>(() => ready);
  useEffect(() => {
    if (checks) return;
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const attempt = (): void => {
      loadChecks().then(
        (c) => live && setChecks(() => c),
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
  return checks;
}
