/**
 * How the operator pages say what a case or a dose is about, in Indonesian and
 * English: case kinds, a case's detail in a sentence (never its JSON keys),
 * vaccine names and calendar dates as people read them. Shared by the work
 * list, the person page and the start page, so the three say the same thing.
 */
import type { Lang } from '../../lib/i18n.ts';
import { formatDate } from '../../../src/certificates/display.ts';
import { findVaccine } from '../../../src/domain/vaccines.ts';

import { CASE_KINDS, type CaseKind } from '../../../src/domain/cases.ts';

/** The work list's tabs: the shared case kinds (domain/cases.ts). */
export const CASE_KIND_KEYS = CASE_KINDS;
export type CaseKindKey = CaseKind;

/** The work list's name of each case kind. */
export const CASE_KIND_NAMES: Record<CaseKind | 'dead_jobs', Record<Lang, string>> = {
  claims_prior_dose: { id: 'Klaim dosis sebelumnya', en: 'Claimed earlier dose' },
  possible_duplicate: { id: 'Kemungkinan data ganda', en: 'Possible duplicate' },
  invalid_phone: { id: 'Nomor HP tidak valid', en: 'Invalid phone' },
  unreachable: { id: 'Tidak terjangkau', en: 'Unreachable' },
  suspicious_phone: { id: 'Nomor HP mencurigakan', en: 'Suspicious phone' },
  name_mismatch: { id: 'Nama tidak cocok', en: 'Name mismatch' },
  phone_change: { id: 'Ganti nomor HP', en: 'Phone change' },
  satusehat_rejected: { id: 'Ditolak SATUSEHAT', en: 'Rejected by SATUSEHAT' },
  satusehat_patient_not_found: { id: 'Tidak ada di SATUSEHAT', en: 'Not found in SATUSEHAT' },
  dead_jobs: { id: 'Tugas gagal', en: 'Dead jobs' },
};

export function caseKindName(kind: string, lang: Lang): string {
  return (CASE_KIND_NAMES as Record<string, Record<Lang, string> | undefined>)[kind]?.[lang] ?? kind;
}

/** A vaccine code as its catalogue name ("CORONAVAC" → "CoronaVac"); an unknown code as it is. */
export function vaccineName(code: unknown): string {
  return typeof code === 'string' ? (findVaccine(code)?.name ?? code) : '';
}

/** A calendar date ("2021-06-10") as "10 Juni 2021" / "10 June 2021". */
export function day(date: unknown, lang: Lang): string {
  return typeof date === 'string' ? formatDate(date, lang) : '';
}

/** "1", "1 dan 2", "1, 2 dan 3" / "1 and 2". */
export function listNumbers(ns: readonly number[], lang: Lang): string {
  if (ns.length <= 1) return ns.join('');
  return `${ns.slice(0, -1).join(', ')} ${lang === 'id' ? 'dan' : 'and'} ${ns[ns.length - 1]}`;
}

/** The dose numbers a claims_prior_dose case says are not on record (`detail.missing`). */
export function missingDoses(detail: Record<string, unknown>): number[] {
  return Array.isArray(detail.missing) ? detail.missing.filter((n): n is number => typeof n === 'number') : [];
}

const str = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' ? String(v) : '');

/** What an open case is about, in one sentence in `lang`; `facility` is where it was opened (a code or a name). */
export function caseInWords(c: { kind: string; detail: Record<string, unknown>; facility?: string | null }, lang: Lang): string {
  const d = c.detail;
  const id = lang === 'id';
  const at = c.facility ? (id ? ` oleh ${c.facility}` : ` by ${c.facility}`) : '';
  switch (c.kind) {
    case 'claims_prior_dose': {
      const missing = missingDoses(d);
      const n = listNumbers(missing, lang);
      const dose = str(d.doseNumber);
      return id
        ? `Dosis ${n} belum tercatat, padahal dosis ${dose} sudah dicatat${at}.`
        : `Dose ${n} ${missing.length > 1 ? 'are' : 'is'} not on record, though dose ${dose} was recorded${at}.`;
    }
    case 'possible_duplicate':
      return id
        ? `Ada data lain dengan nama dan tanggal lahir yang sama (${str(d.otherName)}, lahir ${day(d.birthDate, lang)}) dengan identitas lain.`
        : `Another record has the same name and birth date (${str(d.otherName)}, born ${day(d.birthDate, lang)}) under another identifier.`;
    case 'invalid_phone':
      return str(d.raw)
        ? id
          ? `Nomor HP yang ditulis (${str(d.raw)}) tidak dapat menerima SMS; sertifikatnya belum terkirim.`
          : `The phone number written (${str(d.raw)}) cannot receive SMS; the certificate has not been sent.`
        : id
          ? 'Tidak ada nomor HP; sertifikatnya belum terkirim lewat SMS.'
          : 'No phone number; the certificate has not been sent by SMS.';
    case 'unreachable':
      return id
        ? `SMS ke ${str(d.recipient)} tidak sampai setelah ${str(d.attempts)} kali dicoba.`
        : `The SMS to ${str(d.recipient)} did not arrive after ${str(d.attempts)} attempt(s).`;
    case 'suspicious_phone':
      return id
        ? `SMS ke ${str(d.phone)} ditahan untuk diperiksa: nomor ini tercatat untuk ${str(d.count)}${d.countIsAtLeast === true ? '+' : ''} orang.`
        : `The SMS to ${str(d.phone)} is held for a check: this number is on record for ${str(d.count)}${d.countIsAtLeast === true ? '+' : ''} people.`;
    case 'name_mismatch':
      return id
        ? `${str(d.recordedBy) || 'Fasyankes'} mengirim dosis dengan nama "${str(d.sentName)}", berbeda dari nama yang tercatat; sertifikat dan SMS-nya ditahan.`
        : `${str(d.recordedBy) || 'A facility'} sent a dose under the name "${str(d.sentName)}", which differs from the name on record; its certificate and SMS are held.`;
    case 'phone_change':
      return id
        ? `${str(d.requestedBy) || 'Fasyankes'} meminta nomor HP diganti ke ${str(d.newPhone)}.`
        : `${str(d.requestedBy) || 'A facility'} asks to change the phone number to ${str(d.newPhone)}.`;
    case 'satusehat_rejected':
      return id
        ? `SATUSEHAT menolak dosis ini: ${str(d.reason)}`
        : `SATUSEHAT refused this dose: ${str(d.reason)}`;
    case 'satusehat_patient_not_found':
      return id
        ? `Dosis ini belum terkirim ke SATUSEHAT: pasien tidak ditemukan di SATUSEHAT. ${str(d.reason)}`
        : `This dose has not been sent to SATUSEHAT: no such patient there. ${str(d.reason)}`;
    default:
      return caseKindName(c.kind, lang);
  }
}
