/**
 * Whom a citizen names on the public pages (the lookup, the wrong-phone
 * request): a NIK; or, for someone without one, a passport (number and
 * country) or, for a child, the mother's NIK with the child's full name.
 * Checked exactly as at entry (domain/vaccination-input.ts), and turned into
 * the person key records are found by (records/people.ts `personKey`).
 */
import { issue, type FieldIssue } from '../domain/errors.ts';
import { nameKey } from '../domain/names.ts';
import type { PersonIdentifier } from '../domain/types.ts';
import { validateIdentifier } from '../domain/vaccination-input.ts';
import { personKey } from '../domain/names.ts';

export interface NamedIdentity {
  identifier: PersonIdentifier;
  /** The person key it names (with the birth date and, for a mother's NIK, the child's name). */
  key: string;
  /** What rate limits count: the NIK, the passport, or the mother's NIK (her children share it). */
  identity: string;
}

/**
 * The identity in `{nik}` or `{identifier}` (not both), for a person born on
 * `birthDate` (null when that was itself invalid) with full name `name`;
 * every problem goes into `problems`, and then the result is null.
 */
export function namedIdentity(input: { nik?: unknown; identifier?: unknown }, birthDate: string | null, name: string, problems: FieldIssue[]): NamedIdentity | null {
  let id: PersonIdentifier | null = null;
  const before = problems.length;
  if (input.identifier === undefined || input.identifier === null) {
    const nik = typeof input.nik === 'string' ? input.nik.replace(/[\s.-]/g, '') : '';
    if (!/^\d{16}$/.test(nik)) problems.push(issue('nik', 'nik_format', 'A NIK has 16 digits.', 'NIK terdiri dari 16 angka.'));
    else id = { type: 'nik', value: nik };
  } else if (input.nik !== undefined && input.nik !== null && input.nik !== '') {
    problems.push(issue('identifier', 'nik_or_identifier', 'Give either nik or identifier, not both.', 'Isi nik atau identifier, jangan keduanya.'));
  } else {
    const v = validateIdentifier(input.identifier, birthDate);
    problems.push(...v.issues);
    id = v.identifier;
  }
  // (Unless the caller already named the name as wrong: once is enough.)
  if (id?.type === 'mother-nik' && nameKey(name).length < 2 && !problems.some((p) => p.path === 'name')) {
    problems.push(issue('name', 'required', "The child's full name is required with a mother's NIK.", 'Nama lengkap anak wajib diisi bersama NIK ibu.'));
  }
  if (!id || birthDate === null || problems.length > before) return null;
  return {
    identifier: id,
    key: personKey(id, birthDate, name),
    identity: id.type === 'passport' ? `passport:${id.country}:${id.value}` : `${id.type}:${id.value}`,
  };
}
