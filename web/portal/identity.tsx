/**
 * Whom a citizen names on the portal's forms (the lookup, the wrong-phone
 * request): a NIK; or, for someone without one, a passport (number and
 * issuing country) or, for a child, the mother's NIK (the form then asks for
 * the child's name). The choice, its inputs, the checks made here before
 * sending, the request's fields, and where a problem the server names goes.
 */
import { useLang } from '../lib/lang.ts';
import type { TextKey } from '../lib/i18n.ts';
import { TextField } from '../lib/ui.tsx';

export type IdType = 'nik' | 'passport' | 'mother-nik';
export type IdField = 'nik' | 'passport' | 'country' | 'motherNik';
export type IdentityValues = { idType: IdType } & Record<IdField, string>;

export const NO_IDENTITY: IdentityValues = { idType: 'nik', nik: '', passport: '', country: '', motherNik: '' };

const ERRORS: Record<IdField, TextKey> = {
  nik: 'portal.nikInvalid',
  passport: 'portal.passportInvalid',
  country: 'portal.countryInvalid',
  motherNik: 'portal.motherNikInvalid',
};

const digits = (s: string) => s.replace(/[\s.-]/g, '');

/** What is wrong before anything is sent (format only). */
export function identityProblems(v: IdentityValues): Partial<Record<IdField, boolean>> {
  if (v.idType === 'nik') return { nik: !/^\d{16}$/.test(digits(v.nik)) };
  if (v.idType === 'passport') return { passport: !/^[A-Za-z0-9]{5,20}$/.test(v.passport.trim()), country: !/^[A-Za-z]{2,3}$/.test(v.country.trim()) };
  return { motherNik: !/^\d{16}$/.test(digits(v.motherNik)) };
}

/** The request's `nik` or `identifier`. */
export function identityBody(v: IdentityValues): { nik: string } | { identifier: { type: IdType; value: string; country?: string } } {
  if (v.idType === 'nik') return { nik: digits(v.nik) };
  if (v.idType === 'passport') return { identifier: { type: 'passport', value: v.passport.trim(), country: v.country.trim().toUpperCase() } };
  return { identifier: { type: 'mother-nik', value: digits(v.motherNik) } };
}

/** The input a problem the server named (`nik`, `identifier`, `identifier.value`, `identifier.country`) belongs to. */
export function identityFieldOf(path: string, idType: IdType): IdField | undefined {
  if (path === 'identifier.country') return 'country';
  if (path === 'nik' || path === 'identifier' || path === 'identifier.value') return idType === 'passport' ? 'passport' : idType === 'mother-nik' ? 'motherNik' : 'nik';
  return undefined;
}

/** The id of an identity input (`prefix` + nik, passport, country, mother-nik): where to put the focus. */
export function identityInputId(prefix: string, f: IdField): string {
  return `${prefix}${f === 'motherNik' ? 'mother-nik' : f}`;
}

/**
 * The choice of identity and its inputs; ids start with `prefix`. `bad` marks
 * an input with the format problem of this module's words; `errors` gives the
 * words instead (the console shows the domain validator's own, in words).
 */
export function IdentityFields(props: {
  prefix: string;
  values: IdentityValues;
  onChange: (v: IdentityValues) => void;
  bad: Partial<Record<IdField, boolean>>;
  errors?: Partial<Record<IdField, string>>;
  onBlur?: (f: IdField) => void;
}) {
  const { t } = useLang();
  const v = props.values;
  const field = (f: IdField) => ({
    id: identityInputId(props.prefix, f),
    name: f,
    value: v[f],
    onInput: (value: string) => props.onChange({ ...v, [f]: value }),
    error: props.errors?.[f] ?? (props.bad[f] ? t(ERRORS[f]) : undefined),
    ...(props.onBlur ? { onBlur: () => props.onBlur?.(f) } : {}),
  });
  return (
    <>
      {/* The label outside the select: its name is "Identitas", not "Identitas NIK" (the chosen option). */}
      <div class="field">
        <label class="label" for={`${props.prefix}id-type`}>
          {t('portal.idType')}
        </label>
        <select id={`${props.prefix}id-type`} name="idType" value={v.idType} onChange={(e) => props.onChange({ ...v, idType: e.currentTarget.value as IdType })}>
          <option value="nik">{t('portal.idNik')}</option>
          <option value="passport">{t('portal.idPassport')}</option>
          <option value="mother-nik">{t('portal.idMother')}</option>
        </select>
      </div>
      {v.idType === 'nik' && <TextField {...field('nik')} label={t('portal.nik')} hint={t('portal.nikHint')} inputMode="numeric" maxLength={24} />}
      {v.idType === 'passport' && (
        <>
          <TextField {...field('passport')} label={t('portal.passport')} maxLength={24} />
          <TextField {...field('country')} label={t('portal.country')} hint={t('portal.countryHint')} maxLength={3} />
        </>
      )}
      {v.idType === 'mother-nik' && <TextField {...field('motherNik')} label={t('portal.motherNik')} inputMode="numeric" maxLength={24} />}
    </>
  );
}
