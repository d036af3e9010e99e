/**
 * Masking identifiers and phone numbers for people who may not see them
 * whole (access/scope.ts `seesIdentifiers`), and for the holder's own page and
 * PDF (shown to whoever holds the phone). Browser-safe, no I/O: records,
 * certificates and access all mask the same way with these.
 */

/** A masked NIK: first 6 and last 2 digits (`317104********01`). */
export function maskNik(nik: string): string {
  return nik.length === 16 ? `${nik.slice(0, 6)}********${nik.slice(14)}` : '****';
}

/** A masked identifier: NIKs keep the region and the serial's last two digits; passports their first and last two characters. */
export function maskIdentifier(type: string, value: string): string {
  if (type === 'nik' || type === 'mother-nik') return maskNik(value);
  if (value.length <= 4) return '****';
  return `${value.slice(0, 2)}${'*'.repeat(value.length - 4)}${value.slice(-2)}`;
}

/** A masked phone: `+62 812-****-7890`. */
export function maskPhone(e164: string | null): string | null {
  if (!e164) return null;
  const m = /^\+62(8\d{2})(\d+)(\d{4})$/.exec(e164);
  if (m) return `+62 ${m[1]}-****-${m[3]}`;
  return e164.slice(0, 4) + '****' + e164.slice(-4);
}

/** Keys under which views carry a phone number (cases' details, timeline events, audit details). */
const PHONE_KEYS = new Set(['phone', 'newPhone', 'oldPhone', 'currentPhone', 'recipient', 'from', 'to']);

/**
 * A view's data with every phone number in it masked (`maskPhone`), nested
 * objects included — for the roles that search shows masked numbers to
 * (access/scope.ts `seesIdentifiers`): a case's detail or an event must not
 * show what the search would hide. Inside nested details `raw` is the number
 * as typed (an unusable one), masked too.
 */
export function maskPhonesIn(data: Record<string, unknown>, nested = false): Record<string, unknown> {
  const out: Record<string, unknown> = { ...data };
  for (const [k, v] of Object.entries(out)) {
    if (typeof v === 'string' && (PHONE_KEYS.has(k) || (nested && k === 'raw'))) out[k] = maskPhone(v);
    else if (v !== null && typeof v === 'object' && !Array.isArray(v)) out[k] = maskPhonesIn(v as Record<string, unknown>, true);
  }
  return out;
}
